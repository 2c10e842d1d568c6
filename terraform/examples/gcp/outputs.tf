output "bucket_name" {
  description = "The GCS bucket."
  value       = module.castore.bucket_name
}

output "service_account_email" {
  description = "The frontends' Google service account."
  value       = module.castore.service_account_email
}

output "service" {
  description = "castore's address inside the cluster."
  value       = "grpc+https://${var.release_name}.${var.namespace}.svc:8000"
}
