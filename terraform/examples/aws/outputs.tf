output "bucket_name" {
  description = "The S3 bucket."
  value       = module.castore.bucket_name
}

output "role_arn" {
  description = "The frontends' IAM role."
  value       = module.castore.role_arn
}

output "service" {
  description = "castore's address inside the cluster."
  value       = "grpc+http://${var.release_name}.${var.namespace}.svc:8000"
}
