variable "project_id" {
  description = "Google Cloud project for the bucket, the Bigtable instance and the service account; its GKE cluster must have Workload Identity on."
  type        = string
}

variable "bucket_name" {
  description = "Name of the GCS bucket for castore's chunks and blob indexes."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid GCS bucket name: 3-63 lowercase letters, digits, '.', '_' and '-'."
  }
}

variable "bucket_location" {
  description = "Location of the bucket: a region (e.g. europe-west1) next to the cluster, or a multi-region."
  type        = string
}

variable "prefix" {
  description = "Object name prefix under which castore keeps its data (no leading or trailing slash); empty for the whole bucket."
  type        = string
  default     = "castore"

  validation {
    condition     = !startswith(var.prefix, "/") && !endswith(var.prefix, "/")
    error_message = "prefix must not start or end with '/'."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key to encrypt objects with (CMEK). Empty means Google-managed encryption. The GCS service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = ""
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which GCS removes the parts of multipart uploads that were never completed."
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

variable "bigtable_instance_name" {
  description = "Name of the Bigtable instance for directories."
  type        = string
  default     = "castore"
}

variable "bigtable_zone" {
  description = "Zone of the Bigtable cluster (e.g. europe-west1-b), next to the GKE cluster."
  type        = string
}

variable "bigtable_storage_type" {
  description = "SSD or HDD."
  type        = string
  default     = "SSD"

  validation {
    condition     = contains(["SSD", "HDD"], var.bigtable_storage_type)
    error_message = "bigtable_storage_type must be SSD or HDD."
  }
}

variable "bigtable_min_nodes" {
  description = "Fewest nodes of the autoscaled Bigtable cluster."
  type        = number
  default     = 1
}

variable "bigtable_max_nodes" {
  description = "Most nodes of the autoscaled Bigtable cluster."
  type        = number
  default     = 3

  validation {
    condition     = var.bigtable_max_nodes >= 1
    error_message = "bigtable_max_nodes must be at least 1."
  }
}

variable "bigtable_cpu_target" {
  description = "CPU utilisation (%) the Bigtable autoscaler aims at."
  type        = number
  default     = 60
}

variable "bigtable_table_name" {
  description = "Bigtable table of directories."
  type        = string
  default     = "directories"
}

variable "bigtable_family_name" {
  description = "Column family of the directory cells."
  type        = string
  default     = "d"
}

variable "deletion_protection" {
  description = "Refuse to destroy the Bigtable instance and table."
  type        = bool
  default     = true
}

variable "service_account_id" {
  description = "Account id (the part before @) of the Google service account the frontends act as."
  type        = string
  default     = "castore"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.service_account_id))
    error_message = "service_account_id must be 6-30 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "namespace" {
  description = "Kubernetes namespace the castore frontends run in."
  type        = string
  default     = "castore"
}

variable "kubernetes_service_account" {
  description = "Name of the frontends' Kubernetes ServiceAccount (the chart's default is the release's full name, e.g. castore)."
  type        = string
  default     = "castore"
}

variable "read_only" {
  description = "Grant only reads (for frontends run with --read-only)."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels for the bucket and the Bigtable instance."
  type        = map(string)
  default     = {}
}

variable "touch_role_id" {
  description = "Id of the project custom role with storage.objects.update that writers touch objects with."
  type        = string
  default     = "castoreTouch"
}

variable "gc_enabled" {
  description = "Also make the service account of garbage collection (the chart's gc CronJob): the frontends' access plus delete on the data prefixes, acted as by its ServiceAccount only."
  type        = bool
  default     = false
}

variable "gc_service_account_id" {
  description = "Account id of the Google service account the gc CronJob acts as."
  type        = string
  default     = "castore-gc"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.gc_service_account_id))
    error_message = "gc_service_account_id must be 6-30 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "gc_kubernetes_service_account" {
  description = "Name of the gc CronJob's Kubernetes ServiceAccount (the chart's default is the release's full name and -gc, e.g. castore-gc)."
  type        = string
  default     = "castore-gc"
}

variable "gc_delete_role_id" {
  description = "Id of the project custom role with storage.objects.delete granted to gc on the data prefixes."
  type        = string
  default     = "castoreGcDelete"
}
