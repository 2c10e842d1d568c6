output "bucket_name" {
  description = "The GCS bucket."
  value       = google_storage_bucket.castore.name
}

output "store_url" {
  description = "castore object store URL of the bucket and prefix: the chart's storage.blobs.url."
  value       = "gs://${google_storage_bucket.castore.name}/${var.prefix}"
}

output "bigtable_instance_name" {
  description = "Bigtable instance: the chart's storage.directories.bigtable.instanceName."
  value       = google_bigtable_instance.castore.name
}

output "bigtable_table_name" {
  description = "Bigtable table: the chart's storage.directories.bigtable.tableName."
  value       = google_bigtable_table.directories.name
}

output "bigtable_family_name" {
  description = "Column family: the chart's storage.directories.bigtable.familyName."
  value       = var.bigtable_family_name
}

output "service_account_email" {
  description = "Google service account: the chart's serviceAccount.gcpServiceAccount."
  value       = google_service_account.castore.email
}

output "gc_service_account_email" {
  description = "Google service account of the gc CronJob (with gc_enabled): the chart's gc.serviceAccount.gcpServiceAccount; empty without."
  value       = var.gc_enabled ? google_service_account.gc[0].email : ""
}
