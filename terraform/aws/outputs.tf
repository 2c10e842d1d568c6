output "bucket_name" {
  description = "The S3 bucket."
  value       = aws_s3_bucket.castore.id
}

output "bucket_arn" {
  description = "ARN of the S3 bucket."
  value       = aws_s3_bucket.castore.arn
}

output "role_arn" {
  description = "IAM role for the ServiceAccount: the chart's serviceAccount.awsRoleArn."
  value       = aws_iam_role.castore.arn
}

output "store_url" {
  description = "castore object store URL of the bucket and prefix: the chart's storage.blobs.url."
  value       = "s3://${aws_s3_bucket.castore.id}/${var.prefix}?region=${data.aws_region.current.name}"
}

output "gc_role_arn" {
  description = "IAM role of the gc CronJob (with gc_enabled): the chart's gc.serviceAccount.awsRoleArn; empty without."
  value       = var.gc_enabled ? aws_iam_role.gc[0].arn : ""
}
