# The optional web application firewall (edge.waf of thumbforge.toml; off by default, as it costs
# about 8 USD a month, 5 for the ACL and 1 per rule, plus 0.60 USD per million requests: README
# "Costs and limits"). A CloudFront-scope web ACL, hence in us-east-1: a per-IP rate rule on
# /api/* and AWS's managed common rule set (with its known-bad-inputs companion, which carries
# the Log4j rules).

resource "aws_wafv2_web_acl" "edge" {
  # checkov:skip=CKV2_AWS_31: WAF logging needs a log group named aws-waf-logs-*; the distribution's own access logs (observability.tf) already record every request, blocked ones with status 403.
  count    = var.edge.waf ? 1 : 0
  provider = aws.us_east_1

  name        = "${local.name}-edge"
  description = "thumbforge ${var.environment}: per-IP rate limit on /api/*, AWS managed common rules"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  rule {
    name     = "api-rate-per-ip"
    priority = 0

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.edge.waf_api_requests_per_5_minutes
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300

        scope_down_statement {
          byte_match_statement {
            search_string         = "/api/"
            positional_constraint = "STARTS_WITH"

            field_to_match {
              uri_path {}
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-api-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # The set blocks bodies over 8 KB; the API bounds its own at 16 KiB and answers a
        # clear 413, and uploads go straight to S3, not through here.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-edge"
    sampled_requests_enabled   = true
  }
}
