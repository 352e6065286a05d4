# The optional watermark ([watermark] in thumbforge.toml, crates/core/src/watermark.rs): the PNG
# goes to its key in the media bucket (THUMBFORGE_WATERMARK, outside raw/ and thumbs/: nothing
# triggers on it and CloudFront never serves it), where the thumbnail function reads it once per
# cold start and refuses to start if it is missing or unusable. Originals are never touched.

locals {
  watermark     = var.watermark_image != ""
  watermark_key = lookup(var.function_environment, "THUMBFORGE_WATERMARK", "")
}

resource "aws_s3_object" "watermark" {
  count = local.watermark ? 1 : 0

  bucket       = aws_s3_bucket.media.id
  key          = local.watermark_key
  source       = var.watermark_image
  source_hash  = filesha256(var.watermark_image)
  content_type = "image/png"

  depends_on = [aws_s3_bucket_ownership_controls.this, aws_s3_bucket_server_side_encryption_configuration.this]
}
