# The optional watermark (watermark.tf, its grant in iam.tf, the thumbnail function's
# environment in functions.tf) and the checks of its variable, under a mocked AWS provider:
# `terraform test -filter=tests/watermark.tftest.hcl` from terraform/ (cargo xtask test runs
# every file). The real provider against moto: `cargo xtask moto` (xtask/src/moto.rs).

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

# The variables come from tests/terraform.tfvars (no watermark), shared by every file of tests/.

variables {
  # What `cargo xtask tfvars` writes for `watermark.image = "…"`: the file, and its key among the
  # functions' variables.
  on_environment = {
    THUMBFORGE_SIZES            = "small=256,medium=1024"
    THUMBFORGE_MAX_UPLOAD_BYTES = "26214400"
    THUMBFORGE_CACHE_SECONDS    = "3600"
    THUMBFORGE_WATERMARK        = "settings/watermark.png"
  }
}

run "without_a_watermark_nothing_is_uploaded_or_granted" {
  command = plan

  assert {
    condition     = length(aws_s3_object.watermark) == 0
    error_message = "no watermark object"
  }
  assert {
    condition     = length([for s in module.thumbnail.policy_statements : s if s.Sid == "ReadTheWatermark"]) == 0
    error_message = "no grant on a watermark key"
  }
  assert {
    condition     = !contains(keys(local.thumbnail_environment), "THUMBFORGE_WATERMARK_SHA256")
    error_message = "no watermark hash in the thumbnail function's environment"
  }
}

run "a_watermark_is_uploaded_privately_and_only_the_thumbnail_function_may_read_it" {
  command = apply

  variables {
    watermark_image      = "tests/fixtures/watermark.png"
    function_environment = var.on_environment
  }

  assert {
    condition = (
      aws_s3_object.watermark[0].bucket == aws_s3_bucket.media.id
      && aws_s3_object.watermark[0].key == "settings/watermark.png"
      && aws_s3_object.watermark[0].content_type == "image/png"
      && aws_s3_object.watermark[0].source_hash == filesha256("tests/fixtures/watermark.png")
    )
    error_message = "the PNG goes to THUMBFORGE_WATERMARK's key in the media bucket, as image/png, replaced when it changes"
  }
  assert {
    condition = (
      toset(one([for s in module.thumbnail.policy_statements : s if s.Sid == "ReadTheWatermark"]).Resource) == toset(["${aws_s3_bucket.media.arn}/settings/watermark.png"])
      && toset(one([for s in module.thumbnail.policy_statements : s if s.Sid == "ReadTheWatermark"]).Action) == toset(["s3:GetObject"])
    )
    error_message = "the thumbnail role may GetObject that one key"
  }
  assert {
    condition     = length([for s in module.presign.policy_statements : s if contains(s.Resource, "${aws_s3_bucket.media.arn}/settings/watermark.png")]) == 0
    error_message = "the API function has no grant on the watermark"
  }
  assert {
    condition     = local.thumbnail_environment["THUMBFORGE_WATERMARK_SHA256"] == filesha256("tests/fixtures/watermark.png") && local.thumbnail_environment["THUMBFORGE_WATERMARK"] == "settings/watermark.png"
    error_message = "the thumbnail function gets the key and, to restart on a new image, its hash"
  }
  # CloudFront reads thumbs/ only: the watermark's key is not under it.
  assert {
    condition     = one([for s in local.bucket_policies["media"].Statement : s if s.Sid == "CloudFrontReads"]).Resource == "${aws_s3_bucket.media.arn}/thumbs/*"
    error_message = "CloudFront may read thumbs/ and nothing else of the media bucket"
  }
}

run "rejects_a_missing_watermark_file" {
  command = plan
  variables {
    watermark_image      = "tests/fixtures/no-such-watermark.png"
    function_environment = var.on_environment
  }
  expect_failures = [var.watermark_image]
}

run "rejects_a_watermark_that_is_not_a_png" {
  command = plan
  variables {
    # A zip renamed: the name says PNG, the bytes do not.
    watermark_image      = "tests/fixtures/not-a-png.png"
    function_environment = var.on_environment
  }
  expect_failures = [var.watermark_image]
}

run "rejects_a_watermark_without_alpha" {
  command = plan
  variables {
    watermark_image      = "tests/fixtures/watermark-rgb.png"
    function_environment = var.on_environment
  }
  expect_failures = [var.watermark_image]
}

run "rejects_a_watermark_the_functions_are_not_told_about" {
  command = plan
  variables {
    watermark_image = "tests/fixtures/watermark.png"
  }
  expect_failures = [var.watermark_image]
}
