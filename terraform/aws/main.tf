# castore on AWS: one S3 bucket (encrypted, never public, incomplete uploads
# cleaned up) and an IAM role that the frontends' Kubernetes ServiceAccount
# assumes through IRSA, allowed exactly what castore does on that bucket.

data "aws_region" "current" {}

locals {
  key_prefix = var.prefix == "" ? "" : "${var.prefix}/"
  # The OIDC issuer host and path, e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC.
  oidc_issuer = element(split(":oidc-provider/", var.oidc_provider_arn), 1)
}

resource "aws_s3_bucket" "castore" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "castore" {
  bucket = aws_s3_bucket.castore.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "castore" {
  bucket = aws_s3_bucket.castore.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "castore" {
  bucket = aws_s3_bucket.castore.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == "" ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn == "" ? null : var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != ""
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "castore" {
  bucket = aws_s3_bucket.castore.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}

# Refuse plaintext HTTP to the bucket.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.castore.arn, "${aws_s3_bucket.castore.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "castore" {
  bucket = aws_s3_bucket.castore.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.castore]
}

# IRSA: only this ServiceAccount of this cluster may assume the role.
data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account_name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "castore" {
  name               = var.role_name
  description        = "castore frontends (${var.namespace}/${var.service_account_name}) on s3://${var.bucket_name}/${local.key_prefix}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# What castore does: GetObject/HeadObject (s3:GetObject), conditional
# PutObject and multipart uploads (s3:PutObject, s3:AbortMultipartUpload)
# under its prefix, and ListObjectsV2 (s3:ListBucket). Never a delete: only
# garbage collection deletes, under a role of its own (gc.tf). Touches (a
# copy of an object onto itself, package gc) are a GetObject and a PutObject.
# s3:ListBucket is not narrowed by an s3:prefix condition: S3 answers a
# HEAD of a missing key with 404 only to a caller that may list the bucket
# (with no s3:prefix in that request's context), and castore needs that 404
# to tell "absent" from "denied".
data "aws_iam_policy_document" "access" {
  statement {
    sid       = "List"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.castore.arn]
  }

  statement {
    sid       = "Objects"
    effect    = "Allow"
    actions   = var.read_only ? ["s3:GetObject"] : ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.castore.arn}/${local.key_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == "" ? [] : [var.kms_key_arn]
    content {
      sid       = "Encryption"
      effect    = "Allow"
      actions   = var.read_only ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "castore" {
  name   = "castore-bucket"
  role   = aws_iam_role.castore.id
  policy = data.aws_iam_policy_document.access.json
}
