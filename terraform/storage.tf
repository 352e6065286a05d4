# The two buckets: media (raw/ uploads, thumbs/ outputs) and site (the page). Both private:
# browsers reach thumbs/ and the page only through CloudFront (OAC) and write raw/ only through
# pre-signed URLs.

resource "aws_s3_bucket" "media" {
  # checkov:skip=CKV_AWS_18: Server access logs need a third bucket and cost per request; CloudFront serves every read (API Gateway logs every call) and CloudTrail data events can be enabled per account.
  # checkov:skip=CKV_AWS_144: Replication would double storage; thumbnails can be rebuilt from raw/ and the page from git.
  # checkov:skip=CKV_AWS_145: SSE-S3 (AES256) encrypts at rest without KMS request costs or a key policy for CloudFront OAC and both roles.
  bucket = local.media_bucket_name
}

resource "aws_s3_bucket" "site" {
  # checkov:skip=CKV_AWS_18: Server access logs need a third bucket and cost per request; CloudFront serves every read (API Gateway logs every call) and CloudTrail data events can be enabled per account.
  # checkov:skip=CKV_AWS_144: Replication would double storage; thumbnails can be rebuilt from raw/ and the page from git.
  # checkov:skip=CKV_AWS_145: SSE-S3 (AES256) encrypts at rest without KMS request costs or a key policy for CloudFront OAC and both roles.
  # checkov:skip=CKV2_AWS_62: Only Terraform writes the page; nothing reacts to its changes.
  bucket = local.site_bucket_name
}

locals {
  buckets = {
    media = aws_s3_bucket.media
    site  = aws_s3_bucket.site
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets
  bucket   = each.value.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets
  bucket   = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets
  bucket   = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets
  bucket   = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {
      prefix = ""
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  dynamic "rule" {
    for_each = var.raw_expiration_days == 0 ? [] : [var.raw_expiration_days]
    content {
      id     = "expire-raw-uploads"
      status = "Enabled"
      filter {
        prefix = local.raw_prefix
      }
      expiration {
        days = rule.value
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {
      prefix = ""
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Browsers PUT the upload straight to S3 with the headers the URL signs; only from the site.
# The page also fetch()es an original from the pre-signed GET that
# /api/images/{id}/content?size=original redirects to: a simple GET, from the site only.
resource "aws_s3_bucket_cors_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  cors_rule {
    id              = "upload"
    allowed_methods = ["PUT"]
    allowed_origins = ["https://${aws_cloudfront_distribution.this.domain_name}"]
    allowed_headers = var.upload_cors.allowed_headers
    expose_headers  = var.upload_cors.expose_headers
    max_age_seconds = var.upload_cors.max_age_seconds
  }

  cors_rule {
    id              = "download"
    allowed_methods = ["GET"]
    allowed_origins = ["https://${aws_cloudfront_distribution.this.domain_name}"]
    expose_headers  = var.download_cors.expose_headers
  }
}

# Every bucket: TLS only. Media: CloudFront may read thumbs/; only the presign function's role
# writes raw/ (the pre-signed PUTs it signs carry that role) and only the thumbnail function's
# role writes thumbs/, whatever else an IAM policy of the account allows. Site: CloudFront may
# read it all. (moto evaluates policies without their conditions; xtask/moto/serve.py leaves
# conditional statements out of its evaluation, so these Denies are deployed there too.)
locals {
  media_write_denies = [
    for sid, write in {
      DenyUploadsButThroughPresign     = { prefix = local.raw_prefix, role = module.presign.role_arn }
      DenyThumbnailsButFromTheFunction = { prefix = local.thumbs_prefix, role = module.thumbnail.role_arn }
      } : {
      Sid       = sid
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.media.arn}/${write.prefix}*"
      Condition = { ArnNotEquals = { "aws:PrincipalArn" = write.role } }
    }
  ]
  bucket_policies = {
    for key, bucket in local.buckets : key => {
      Version = "2012-10-17"
      Statement = concat([
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:*"
          Resource  = [bucket.arn, "${bucket.arn}/*"]
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
        {
          Sid       = "CloudFrontReads"
          Effect    = "Allow"
          Principal = { Service = "cloudfront.amazonaws.com" }
          Action    = "s3:GetObject"
          Resource  = key == "media" ? "${bucket.arn}/${local.thumbs_prefix}*" : "${bucket.arn}/*"
          Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.this.arn } }
        },
      ], key == "media" ? local.media_write_denies : [])
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  policy   = jsonencode(local.bucket_policies[each.key])

  # S3 refuses concurrent changes to a bucket's access settings (OperationAborted).
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# raw/ uploads wake the thumbnail function; thumbs/ never does.
resource "aws_s3_bucket_notification" "media" {
  bucket = aws_s3_bucket.media.id

  lambda_function {
    id                  = "thumbnail-on-raw-upload"
    lambda_function_arn = module.thumbnail.function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.raw_prefix
  }

  depends_on = [aws_lambda_permission.s3_invokes_thumbnail]
}

# The page, with the Content-Type and Cache-Control thumbforge_core::web gives each file.
resource "aws_s3_object" "site" {
  for_each = var.site_files

  bucket        = aws_s3_bucket.site.id
  key           = each.key
  source        = "${local.site_dir}/${each.key}"
  source_hash   = filemd5("${local.site_dir}/${each.key}")
  content_type  = each.value.content_type
  cache_control = each.value.cache_control

  depends_on = [aws_s3_bucket_ownership_controls.this, aws_s3_bucket_server_side_encryption_configuration.this]
}
