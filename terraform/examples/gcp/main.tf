# A complete castore on GKE: the bucket, Bigtable and Workload Identity
# from ../../gcp, and the chart installed with the helm provider from
# ../../../helm/castore with examples/gcp-values.yaml, pointed at what was
# just made.

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "this" {}

data "google_container_cluster" "this" {
  name     = var.cluster_name
  location = var.region
}

provider "helm" {
  kubernetes {
    host                   = "https://${data.google_container_cluster.this.endpoint}"
    cluster_ca_certificate = base64decode(data.google_container_cluster.this.master_auth[0].cluster_ca_certificate)
    token                  = data.google_client_config.this.access_token
  }
}

locals {
  # The chart's ServiceAccount is named after the release (its full name).
  service_account = var.release_name
  chart_dir       = "${path.module}/../../../helm/castore"
}

module "castore" {
  source = "../../gcp"

  project_id                 = var.project_id
  bucket_name                = var.bucket_name
  bucket_location            = var.region
  bigtable_zone              = var.bigtable_zone
  namespace                  = var.namespace
  kubernetes_service_account = local.service_account
  labels = {
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
    file("${local.chart_dir}/examples/gcp-values.yaml"),
    yamlencode({
      image = {
        repository = var.image_repository
        tag        = var.image_tag
      }
      serviceAccount = {
        name              = local.service_account
        gcpServiceAccount = module.castore.service_account_email
      }
      storage = {
        blobs = {
          url = module.castore.store_url
        }
        directories = {
          type = "bigtable"
          bigtable = {
            projectId    = var.project_id
            instanceName = module.castore.bigtable_instance_name
            tableName    = module.castore.bigtable_table_name
            familyName   = module.castore.bigtable_family_name
          }
        }
      }
      tls = {
        enabled        = true
        existingSecret = var.tls_secret_name
        verifyClients  = true
      }
    }),
  ]

  # The identity bindings must exist before pods ask for tokens.
  depends_on = [module.castore]
}
