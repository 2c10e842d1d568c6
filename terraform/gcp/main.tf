# castore on Google Cloud: a GCS bucket for blobs, a Bigtable instance,
# table and column family for directories, and a service account that the
# frontends' Kubernetes ServiceAccount acts as through Workload Identity,
# allowed exactly what castore does.

resource "google_storage_bucket" "castore" {
  project                     = var.project_id
  name                        = var.bucket_name
  location                    = var.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  dynamic "encryption" {
    for_each = var.kms_key_name == "" ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  lifecycle_rule {
    condition {
      age = var.abort_incomplete_multipart_days
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}

resource "google_bigtable_instance" "castore" {
  project             = var.project_id
  name                = var.bigtable_instance_name
  deletion_protection = var.deletion_protection
  labels              = var.labels

  cluster {
    cluster_id   = "${var.bigtable_instance_name}-c1"
    zone         = var.bigtable_zone
    storage_type = var.bigtable_storage_type

    autoscaling_config {
      min_nodes  = var.bigtable_min_nodes
      max_nodes  = var.bigtable_max_nodes
      cpu_target = var.bigtable_cpu_target
    }
  }
}

# One row per directory, keyed by its digest; one cell in the family.
resource "google_bigtable_table" "directories" {
  project             = var.project_id
  instance_name       = google_bigtable_instance.castore.name
  name                = var.bigtable_table_name
  deletion_protection = var.deletion_protection ? "PROTECTED" : "UNPROTECTED"

  column_family {
    family = var.bigtable_family_name
  }
}

# Cells are written once and never change: keep one version.
resource "google_bigtable_gc_policy" "directories" {
  project         = var.project_id
  instance_name   = google_bigtable_instance.castore.name
  table           = google_bigtable_table.directories.name
  column_family   = var.bigtable_family_name
  deletion_policy = "ABANDON"

  max_version {
    number = 1
  }
}

resource "google_service_account" "castore" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "castore frontends (${var.namespace}/${var.kubernetes_service_account})"
}

# Blobs: read and list (objectViewer), create without overwrite or delete
# (objectCreator: castore writes each object once, if absent).
resource "google_storage_bucket_iam_member" "read" {
  bucket = google_storage_bucket.castore.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.castore.member
}

resource "google_storage_bucket_iam_member" "create" {
  count  = var.read_only ? 0 : 1
  bucket = google_storage_bucket.castore.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.castore.member
}

# Directories: read (and, unless read-only, write) rows of this one table.
resource "google_bigtable_table_iam_member" "directories" {
  project  = var.project_id
  instance = google_bigtable_instance.castore.name
  table    = google_bigtable_table.directories.name
  role     = var.read_only ? "roles/bigtable.reader" : "roles/bigtable.user"
  member   = google_service_account.castore.member
}

# Workload Identity: the Kubernetes ServiceAccount may act as this one.
resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.castore.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.kubernetes_service_account}]"
}
