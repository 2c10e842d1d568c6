# Garbage collection (castore gc, the chart's gc CronJob): a role of its
# own, assumed by the CronJob's ServiceAccount only, with the frontends'
# access plus s3:DeleteObject on the data prefixes (chunks, blob indexes,
# bundles, and gc's trash). The frontends' role never deletes.

locals {
  gc_delete_prefixes = ["chunks/", "chunk/", "blobs/", "dirs/", "trash/"]
}

data "aws_iam_policy_document" "gc_assume" {
  count = var.gc_enabled ? 1 : 0

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
      values   = ["system:serviceaccount:${var.namespace}:${var.gc_service_account_name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "gc" {
  count              = var.gc_enabled ? 1 : 0
  name               = var.gc_role_name
  description        = "castore gc (${var.namespace}/${var.gc_service_account_name}) on s3://${var.bucket_name}/${local.key_prefix}"
  assume_role_policy = data.aws_iam_policy_document.gc_assume[0].json
  tags               = var.tags
}

# What castore gc does: list, read, put (its mark, trash copies, touches
# and tag tombstones are puts; copies read their source), and delete under
# the data prefixes only.
data "aws_iam_policy_document" "gc_access" {
  count = var.gc_enabled ? 1 : 0

  statement {
    sid       = "List"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.castore.arn]
  }

  statement {
    sid       = "Objects"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.castore.arn}/${local.key_prefix}*"]
  }

  statement {
    sid       = "DeleteData"
    effect    = "Allow"
    actions   = ["s3:DeleteObject"]
    resources = [for p in local.gc_delete_prefixes : "${aws_s3_bucket.castore.arn}/${local.key_prefix}${p}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == "" ? [] : [var.kms_key_arn]
    content {
      sid       = "Encryption"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "gc" {
  count  = var.gc_enabled ? 1 : 0
  name   = "castore-gc-bucket"
  role   = aws_iam_role.gc[0].id
  policy = data.aws_iam_policy_document.gc_access[0].json
}
