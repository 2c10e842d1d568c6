# Touches and garbage collection (castore gc, the chart's gc CronJob).
#
# A writer that relies on an object already stored refreshes its time
# (package gc): on GCS a metadata update, storage.objects.update, which the
# frontends get through a custom role of that one permission. Garbage
# collection runs as a service account of its own, acted as by the
# CronJob's ServiceAccount only, with the frontends' access plus
# storage.objects.delete limited by an IAM condition to the data prefixes
# (chunks, blob indexes, bundles, and gc's trash). The frontends never
# delete.

locals {
  object_prefix      = var.prefix == "" ? "" : "${var.prefix}/"
  object_name_prefix = "projects/_/buckets/${google_storage_bucket.castore.name}/objects/${local.object_prefix}"
  gc_delete_prefixes = ["chunks/", "chunk/", "blobs/", "dirs/", "trash/"]
}

resource "google_project_iam_custom_role" "touch" {
  project     = var.project_id
  role_id     = var.touch_role_id
  title       = "castore touch"
  description = "Refresh a stored object's time (a metadata update) so that castore gc keeps what a write relies on."
  permissions = ["storage.objects.update"]
}

resource "google_storage_bucket_iam_member" "touch" {
  count  = var.read_only ? 0 : 1
  bucket = google_storage_bucket.castore.name
  role   = google_project_iam_custom_role.touch.id
  member = google_service_account.castore.member
}

resource "google_service_account" "gc" {
  count        = var.gc_enabled ? 1 : 0
  project      = var.project_id
  account_id   = var.gc_service_account_id
  display_name = "castore gc (${var.namespace}/${var.gc_kubernetes_service_account})"
}

resource "google_project_iam_custom_role" "gc_delete" {
  count       = var.gc_enabled ? 1 : 0
  project     = var.project_id
  role_id     = var.gc_delete_role_id
  title       = "castore gc delete"
  description = "Delete castore's unreferenced objects (granted on its data prefixes only)."
  permissions = ["storage.objects.delete"]
}

resource "google_storage_bucket_iam_member" "gc" {
  for_each = var.gc_enabled ? {
    read   = "roles/storage.objectViewer"
    create = "roles/storage.objectCreator"
    touch  = google_project_iam_custom_role.touch.id
  } : {}
  bucket = google_storage_bucket.castore.name
  role   = each.value
  member = google_service_account.gc[0].member
}

resource "google_storage_bucket_iam_member" "gc_delete" {
  count  = var.gc_enabled ? 1 : 0
  bucket = google_storage_bucket.castore.name
  role   = google_project_iam_custom_role.gc_delete[0].id
  member = google_service_account.gc[0].member

  condition {
    title       = "castore data prefixes"
    description = "Only chunks, blob indexes, bundles and gc's trash."
    expression  = join(" || ", [for p in local.gc_delete_prefixes : "resource.name.startsWith(\"${local.object_name_prefix}${p}\")"])
  }
}

# Directories are only read: gc walks them, it does not delete rows.
resource "google_bigtable_table_iam_member" "gc" {
  count    = var.gc_enabled ? 1 : 0
  project  = var.project_id
  instance = google_bigtable_instance.castore.name
  table    = google_bigtable_table.directories.name
  role     = "roles/bigtable.reader"
  member   = google_service_account.gc[0].member
}

resource "google_service_account_iam_member" "gc_workload_identity" {
  count              = var.gc_enabled ? 1 : 0
  service_account_id = google_service_account.gc[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.gc_kubernetes_service_account}]"
}
