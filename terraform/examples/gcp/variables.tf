variable "project_id" {
  description = "Google Cloud project."
  type        = string
}

variable "region" {
  description = "Region of the cluster and the bucket."
  type        = string
}

variable "cluster_name" {
  description = "Name of an existing GKE cluster (regional, in var.region) with Workload Identity on."
  type        = string
}

variable "bigtable_zone" {
  description = "Zone of the Bigtable cluster, in var.region."
  type        = string
}

variable "bucket_name" {
  description = "Name of the GCS bucket to create."
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

variable "tls_secret_name" {
  description = "Existing kubernetes.io/tls Secret in the namespace with tls.crt, tls.key and ca.crt (for example from cert-manager)."
  type        = string
  default     = "castore-tls"
}
