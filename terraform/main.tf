# Names and facts shared by every file.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Against an emulator (`cargo xtask deploy --endpoint URL`) the CloudFront features moto does
  # not implement (response headers policies, cache policies: cdn.tf) are left out; `terraform
  # test` covers them at plan level and a real deploy creates them.
  emulated = var.aws_endpoint != null

  name = "thumbforge-${var.environment}"
  default_tags = {
    project     = "thumbforge"
    environment = var.environment
  }
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Globally unique, predictable bucket names: at most 16 + 11 + 12 + 1 + 14 + ... < 63 characters.
  media_bucket_name = "${local.name}-media-${local.account_id}-${var.region}"
  site_bucket_name  = "${local.name}-site-${local.account_id}-${var.region}"

  # The origin browsers PUT pre-signed uploads to: the virtual-hosted regional endpoint the SDK
  # signs for (https://<bucket>.s3.<region>.amazonaws.com).
  upload_origin = "https://${local.media_bucket_name}.s3.${var.region}.${data.aws_partition.current.dns_suffix}"

  site_dir      = coalesce(var.site_dir, "${path.module}/../frontend")
  presign_zip   = coalesce(var.presign_zip, "${path.module}/../target/dist/presign.zip")
  thumbnail_zip = coalesce(var.thumbnail_zip, "${path.module}/../target/dist/thumbnail.zip")

  # The key layout (crates/core/src/keys.rs).
  raw_prefix    = "raw/"
  thumbs_prefix = "thumbs/"
}
