variable "region" {
  description = "AWS region of the cluster and the bucket."
  type        = string
}

variable "cluster_name" {
  description = "Name of an existing EKS cluster with an IAM OIDC provider (IRSA)."
  type        = string
}

variable "bucket_name" {
  description = "Name of the S3 bucket to create."
  type        = string
}

variable "namespace" {
  description = "Namespace to install castore into (created if missing)."
  type        = string
  default     = "castore"
}

variable "release_name" {
  description = "Helm release name; the chart names the ServiceAccount after it."
  type        = string
  default     = "castore"
}

variable "image_repository" {
  description = "Image pushed from `make image`."
  type        = string
  default     = "ghcr.io/castore-go/castore"
}

variable "image_tag" {
  description = "Image tag; empty means the chart's appVersion."
  type        = string
  default     = ""
}

variable "token_hashes" {
  description = "Bearer tokens as lines \"SHA256-HEX read|write\" (hex SHA-256 of each token, never the token)."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = length(var.token_hashes) > 0 && alltrue([for t in var.token_hashes : can(regex("^[0-9a-f]{64} (read|write)$", t))])
    error_message = "token_hashes must be non-empty lines \"SHA256-HEX read|write\"."
  }
}
