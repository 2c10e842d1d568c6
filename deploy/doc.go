// Package deploy holds the checks of castore's deployment files (make
// deploy-check): the Helm chart in helm/castore, rendered with the pinned
// helm and decoded strictly into the Kubernetes API types, and the
// Terraform in terraform/, formatted with the pinned terraform and parsed
// with hashicorp/hcl to check its references. It has no code of its own;
// the checks are its tests.
package deploy
