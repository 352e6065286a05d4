# Eyes on the system: alarms to an SNS topic mailed to alarms.emails, a dashboard of the same
# figures, CloudFront's access logs, and the optional monthly budget. The README's "Operating it"
# says what each alarm means and what to do. thumbforge's own metrics (var.metrics, named in
# thumbforge_core::metrics) come from the functions' Embedded Metric Format log lines.

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  functions = {
    presign   = module.presign.function_name
    thumbnail = module.thumbnail.function_name
  }
  timeouts_ms = {
    presign   = var.presign_timeout_seconds * 1000
    thumbnail = var.thumbnail_timeout_seconds * 1000
  }
  dead_letter_queues = {
    thumbnail = aws_sqs_queue.thumbnail_dlq.name
    cleanup   = aws_sqs_queue.cleanup_dlq.name
  }
  # The thumbnail function's line for a written image: {Function, Outcome} = {thumbnail, ready}.
  ready_dimensions = {
    (var.metrics.function) = "thumbnail"
    (var.metrics.outcome)  = var.metrics.ready
  }
  # Alarms fire past their threshold over this many seconds.
  alarm_period = 300
}

resource "aws_sns_topic" "alarms" {
  # checkov:skip=CKV_AWS_26: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer key costs 1 USD a month; the messages carry alarm names and states only.
  name = "${local.name}-alarms"
}

# Each address gets a confirmation mail from AWS first; until it is confirmed, nothing is sent.
resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = toset(var.alarms.emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# Every alarm on one metric, by key: what README "Operating it" lists. Each fires past its
# threshold; no data (no traffic) is not an alarm.
locals {
  # What an alarm is unless it says otherwise: any datapoint above 0 in one 5-minute period.
  alarm_defaults = {
    statistic          = "Sum"
    extended_statistic = null
    period             = local.alarm_period
    evaluation_periods = 1
    datapoints         = 1
    threshold          = 0
  }
  metric_alarms = { for key, alarm in merge(
    # A function's invocations failed: a bug, a storage outage or a timeout (the thumbnail
    # function's events are retried twice, then dead-lettered).
    { for k, f in local.functions : "${k}-errors" => {
      name        = "${f}-errors"
      description = "${k}: invocations failed in the last 5 minutes"
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = f }
    } },
    # Invocations refused for want of concurrency, for 15 minutes on end: the thumbnail
    # function's cap (functions.thumbnail_reserved_concurrency) or the account's limit.
    { for k, f in local.functions : "${k}-throttles" => {
      name               = "${f}-throttles"
      description        = "${k}: invocations throttled in each of the last 15 minutes"
      namespace          = "AWS/Lambda"
      metric             = "Throttles"
      dimensions         = { FunctionName = f }
      evaluation_periods = 3
      datapoints         = 3
    } },
    # The slowest 5 % of invocations come within a fifth of the timeout, in two of three periods.
    { for k, f in local.functions : "${k}-duration-p95" => {
      name               = "${f}-duration-p95"
      description        = "${k}: p95 duration above 80 % of the ${local.timeouts_ms[k] / 1000} s timeout"
      namespace          = "AWS/Lambda"
      metric             = "Duration"
      dimensions         = { FunctionName = f }
      statistic          = null
      extended_statistic = "p95"
      evaluation_periods = 3
      datapoints         = 2
      threshold          = local.timeouts_ms[k] * 0.8
    } },
    # Something waits in a dead-letter queue for a replay.
    { for k, q in local.dead_letter_queues : "${k}-dlq-not-empty" => {
      name        = "${q}-not-empty"
      description = "The ${k} dead-letter queue holds messages"
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = q }
      statistic   = "Maximum"
    } },
    # Users wait too long for their thumbnails: the 95th percentile from upload URL to ready.
    { "time-to-ready-p95" = {
      name               = "${local.name}-time-to-ready-p95"
      description        = "p95 time from upload to ready above ${var.alarms.time_to_ready_p95_seconds} s over 15 minutes"
      namespace          = var.metrics.namespace
      metric             = var.metrics.time_to_ready_ms
      dimensions         = local.ready_dimensions
      statistic          = null
      extended_statistic = "p95"
      period             = 900
      threshold          = var.alarms.time_to_ready_p95_seconds * 1000
    } },
  ) : key => merge(local.alarm_defaults, alarm) }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = local.metric_alarms

  alarm_name          = each.value.name
  alarm_description   = "${each.value.description} (README: Operating it)."
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended_statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The API's share of 5xx answers over 5 minutes (API Gateway's own and the function's).
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.name}-api-5xx"
  alarm_description   = "More than ${var.alarms.api_5xx_percent} % of API answers were 5xx in the last 5 minutes (README: Operating it)."
  evaluation_periods  = 1
  threshold           = var.alarms.api_5xx_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx %"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = { ApiId = aws_apigatewayv2_api.this.id }
      stat        = "Sum"
      period      = local.alarm_period
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiId = aws_apigatewayv2_api.this.id }
      stat        = "Sum"
      period      = local.alarm_period
    }
  }
}

locals {
  alarm_arns = concat([for a in aws_cloudwatch_metric_alarm.metric : a.arn], [aws_cloudwatch_metric_alarm.api_5xx.arn])
  ns         = var.metrics.namespace
  # Every stage's time on a written image, by its metric name.
  stage_metrics = [var.metrics.download_ms, var.metrics.decode_ms, var.metrics.resize_ms, var.metrics.encode_ms, var.metrics.upload_ms]
  dashboard_widgets = [
    {
      type       = "alarm", x = 0, y = 0, width = 24, height = 3
      properties = { title = "Alarms", alarms = local.alarm_arns }
    },
    {
      type = "metric", x = 0, y = 3, width = 12, height = 6
      properties = {
        title  = "Images by outcome (and rejection reason)"
        region = var.region
        stat   = "Sum"
        period = 300
        metrics = [
          [{ expression = "SEARCH('{${local.ns},${var.metrics.function},${var.metrics.outcome}} MetricName=\"${var.metrics.images}\"', 'Sum', 300)", id = "ready" }],
          [{ expression = "SEARCH('{${local.ns},${var.metrics.function},${var.metrics.outcome},${var.metrics.reason}} MetricName=\"${var.metrics.images}\"', 'Sum', 300)", id = "rejected" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 3, width = 12, height = 6
      properties = {
        title  = "Time from upload to ready (ms)"
        region = var.region
        period = 300
        metrics = [
          [local.ns, var.metrics.time_to_ready_ms, var.metrics.function, "thumbnail", var.metrics.outcome, var.metrics.ready, { stat = "p50", label = "p50" }],
          [local.ns, var.metrics.time_to_ready_ms, var.metrics.function, "thumbnail", var.metrics.outcome, var.metrics.ready, { stat = "p95", label = "p95" }],
        ]
        annotations = { horizontal = [{ label = "alarm", value = var.alarms.time_to_ready_p95_seconds * 1000 }] }
      }
    },
    {
      type = "metric", x = 0, y = 9, width = 12, height = 6
      properties = {
        title   = "Thumbnail stages, p95 (ms)"
        region  = var.region
        period  = 300
        stat    = "p95"
        metrics = [for m in local.stage_metrics : [local.ns, m, var.metrics.function, "thumbnail", var.metrics.outcome, var.metrics.ready]]
      }
    },
    {
      type = "metric", x = 12, y = 9, width = 12, height = 6
      properties = {
        title  = "Uploads started and refused by a quota"
        region = var.region
        period = 300
        stat   = "Sum"
        metrics = [
          [local.ns, var.metrics.uploads_started, var.metrics.function, "presign"],
          [{ expression = "SEARCH('{${local.ns},${var.metrics.function},${var.metrics.reason}} MetricName=\"${var.metrics.quota_refusals}\"', 'Sum', 300)", id = "quota" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 15, width = 12, height = 6
      properties = {
        title  = "Functions: errors, throttles, p95 duration (ms, right)"
        region = var.region
        period = 300
        metrics = concat(
          [for k, f in local.functions : ["AWS/Lambda", "Errors", "FunctionName", f, { stat = "Sum", label = "${k} errors" }]],
          [for k, f in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", f, { stat = "Sum", label = "${k} throttles" }]],
          [for k, f in local.functions : ["AWS/Lambda", "Duration", "FunctionName", f, { stat = "p95", label = "${k} p95", yAxis = "right" }]],
        )
      }
    },
    {
      type = "metric", x = 12, y = 15, width = 12, height = 6
      properties = {
        title  = "API: requests, 4xx, 5xx; p95 latency (ms, right)"
        region = var.region
        period = 300
        metrics = [
          ["AWS/ApiGateway", "Count", "ApiId", aws_apigatewayv2_api.this.id, { stat = "Sum" }],
          ["AWS/ApiGateway", "4xx", "ApiId", aws_apigatewayv2_api.this.id, { stat = "Sum" }],
          ["AWS/ApiGateway", "5xx", "ApiId", aws_apigatewayv2_api.this.id, { stat = "Sum" }],
          ["AWS/ApiGateway", "Latency", "ApiId", aws_apigatewayv2_api.this.id, { stat = "p95", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 21, width = 24, height = 6
      properties = {
        title   = "Dead-letter queues (messages waiting)"
        region  = var.region
        period  = 300
        stat    = "Maximum"
        metrics = [for k, q in local.dead_letter_queues : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = k }]]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

# Who uploaded what: CloudFront standard logging (v2) of every request (time, client IP, method,
# path, status, bytes) to a log group in us-east-1, where CloudFront's log delivery lives, kept
# like the functions' logs. The API's access log (api.tf) has the same requests' API Gateway
# ids, and the API function's log the image id it issued under each.
resource "aws_cloudwatch_log_group" "cdn" {
  # checkov:skip=CKV_AWS_338: Retention is `logs.retention_days` of thumbforge.toml (14 days by default); raise it there where a year is required.
  # checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts at rest by default; a customer key adds cost and a key policy for no stated need.
  count    = var.edge.access_logs ? 1 : 0
  provider = aws.us_east_1

  name              = "/aws/cloudfront/${local.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_delivery_source" "cdn" {
  count    = var.edge.access_logs ? 1 : 0
  provider = aws.us_east_1

  name         = "${local.name}-cdn"
  log_type     = "ACCESS_LOGS"
  resource_arn = aws_cloudfront_distribution.this.arn
}

resource "aws_cloudwatch_log_delivery_destination" "cdn" {
  count    = var.edge.access_logs ? 1 : 0
  provider = aws.us_east_1

  name          = "${local.name}-cdn"
  output_format = "json"

  delivery_destination_configuration {
    destination_resource_arn = aws_cloudwatch_log_group.cdn[0].arn
  }
}

resource "aws_cloudwatch_log_delivery" "cdn" {
  count    = var.edge.access_logs ? 1 : 0
  provider = aws.us_east_1

  delivery_source_name     = aws_cloudwatch_log_delivery_source.cdn[0].name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.cdn[0].arn
}

# A ceiling the owner hears about: the whole account's monthly cost, mailed at 80 % of the
# forecast and at 100 % of the actual. Account-wide on purpose: a budget filtered on the stack's
# tags needs those tags activated for cost allocation first, and would miss what is untagged.
resource "aws_budgets_budget" "monthly" {
  count = var.alarms.monthly_budget_usd > 0 ? 1 : 0

  name         = "${local.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.alarms.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = var.alarms.emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = var.alarms.emails
  }
}
