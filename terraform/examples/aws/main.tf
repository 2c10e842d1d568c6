# A complete castore on EKS: the bucket and IRSA role from ../../aws, and
# the chart installed with the helm provider from ../../../helm/castore
# with examples/aws-values.yaml, pointed at what was just made.

provider "aws" {
  region = var.region
}

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

data "aws_eks_cluster_auth" "this" {
  name = var.cluster_name
}

data "aws_iam_openid_connect_provider" "this" {
  url = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}

provider "helm" {
  kubernetes {
    host                   = data.aws_eks_cluster.this.endpoint
    cluster_ca_certificate = base64decode(data.aws_eks_cluster.this.certificate_authority[0].data)
    token                  = data.aws_eks_cluster_auth.this.token
  }
}

locals {
  # The chart's ServiceAccount is named after the release (its full name).
  service_account = var.release_name
  chart_dir       = "${path.module}/../../../helm/castore"
}

module "castore" {
  source = "../../aws"

  bucket_name          = var.bucket_name
  oidc_provider_arn    = data.aws_iam_openid_connect_provider.this.arn
  namespace            = var.namespace
  service_account_name = local.service_account
  role_name            = "${var.cluster_name}-castore"
  tags = {
    app     = "castore"
    cluster = var.cluster_name
  }
}

resource "helm_release" "castore" {
  name             = var.release_name
  namespace        = var.namespace
  create_namespace = true
  chart            = local.chart_dir
  wait             = true
  timeout          = 600

  values = [
    file("${local.chart_dir}/examples/aws-values.yaml"),
    yamlencode({
      image = {
        repository = var.image_repository
        tag        = var.image_tag
      }
      serviceAccount = {
        name       = local.service_account
        awsRoleArn = module.castore.role_arn
      }
      storage = {
        blobs = {
          url = module.castore.store_url
        }
      }
      auth = {
        enabled        = true
        existingSecret = ""
        tokens         = var.token_hashes
      }
    }),
  ]
}
