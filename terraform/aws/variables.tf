variable "bucket_name" {
  description = "Name of the S3 bucket for castore's chunks, blob indexes and directory bundles."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'."
  }
}

variable "prefix" {
  description = "Key prefix inside the bucket under which castore keeps its data (no leading or trailing slash); empty for the whole bucket."
  type        = string
  default     = "castore"

  validation {
    condition     = !startswith(var.prefix, "/") && !endswith(var.prefix, "/")
    error_message = "prefix must not start or end with '/'."
  }
}

variable "kms_key_arn" {
  description = "KMS key to encrypt objects with (SSE-KMS). Empty means SSE-S3 (AES256, keys managed by S3)."
  type        = string
  default     = ""
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which S3 removes the parts of multipart uploads that were never completed (a frontend killed mid-upload leaves them)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with everything in it."
  type        = bool
  default     = false
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider (arn:aws:iam::ACCOUNT:oidc-provider/oidc.eks.REGION.amazonaws.com/id/ID), for IRSA."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace the castore frontends run in."
  type        = string
  default     = "castore"
}

variable "service_account_name" {
  description = "Name of the frontends' Kubernetes ServiceAccount (the chart's default is the release's full name, e.g. castore)."
  type        = string
  default     = "castore"
}

variable "role_name" {
  description = "Name of the IAM role the frontends assume."
  type        = string
  default     = "castore"
}

variable "read_only" {
  description = "Grant only reads (for frontends run with --read-only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "gc_enabled" {
  description = "Also make the IAM role of garbage collection (the chart's gc CronJob): the frontends' access plus s3:DeleteObject on the data prefixes, for its ServiceAccount only."
  type        = bool
  default     = false
}

variable "gc_service_account_name" {
  description = "Name of the gc CronJob's Kubernetes ServiceAccount (the chart's default is the release's full name and -gc, e.g. castore-gc)."
  type        = string
  default     = "castore-gc"
}

variable "gc_role_name" {
  description = "Name of the IAM role the gc CronJob assumes."
  type        = string
  default     = "castore-gc"
}
