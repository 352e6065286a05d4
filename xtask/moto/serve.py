"""moto_server with fixes to what its CloudFront, S3, DynamoDB and Lambda emulation do.

`cargo xtask moto` applies the real Terraform stack through the real AWS provider to moto, then
requires `terraform plan` to show no changes. moto 5.2.5 answers GetDistribution with values it was
never sent, which the provider reads back as drift; real CloudFront returns none of them:

1. each origin's OriginAccessControlId is dropped (so every origin looks replaced);
2. a ForwardedValues block is added to every cache behaviour that uses a cache policy instead;
3. SSLSupportMethod "sni-only" is added to the default-certificate viewer configuration;
4. every cache behaviour's FunctionAssociations is answered as empty;

and two gaps are filled: PublishFunction (not routed: 404) and bucket-policy evaluation, which
ignores conditions, so the TLS-only Deny (aws:SecureTransport) would deny every object call;
conditional statements are left out of moto's evaluation instead (unconditional ones, such as
the deny-all-writes policy `cargo xtask destroy` puts on the media bucket, are still enforced).

DynamoDB stream records stay in the stream but never reach a function. moto hands them, on
every write, to the function of each event source mapping on the table, synchronously inside the
write, by running the function in Docker: with the clean-up's mapping (terraform/cleanup.tf) each
write of the catalog contract would wait for a container (or, without Docker, fail to start one
and log it as the thumbnail function's output). moto cannot run the functions here anyway; the
mapping itself is emulated as released (created, read back, deleted).

DynamoDB requests are served one at a time. The threaded server runs each request on a thread
of its own, and moto's TransactWriteItems is not isolated: it changes the live tables item by
item and rolls back by restoring copies of whole tables taken when it began, undoing what other
requests wrote meanwhile. Racing transactions (the catalog contract's concurrent deletes) then
resurrect deleted items and apply a cancelled transaction's updates. DynamoDB itself runs
transactions serializably; one request at a time is that, trivially.

Everything else is moto as released (pinned in xtask/src/tools.rs).

Usage: python serve.py [HOST]. The server binds HOST (default 127.0.0.1) on a port the OS picks,
so no other process can take the port between its choice and the bind, and prints
`listening on PORT` as its first line of standard output. It runs until its standard input
closes: xtask holds the other end, so however xtask ends (Ctrl-C, a crash, SIGKILL), moto ends
with it. Request logs go to standard error.
"""

import json
import signal
import sys
import threading

from moto.cloudfront import models as cloudfront
from moto.cloudfront import responses as cloudfront_responses
from moto.awslambda import models as awslambda
from moto.cloudfront import urls as cloudfront_urls
from moto.core.responses import ActionResult
from moto.dynamodb import responses as dynamodb_responses
from moto.s3 import models as s3

_origin_init = cloudfront.Origin.__init__


def _origin_keeps_its_access_control(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


_behaviour_init = cloudfront.DefaultCacheBehaviour.__init__


def _behaviour_keeps_no_forwarded_values(self, config):
    _behaviour_init(self, config)
    if "ForwardedValues" not in config:
        self.forwarded_values = None
    if (config.get("FunctionAssociations") or {}).get("Quantity"):
        self.function_associations = config["FunctionAssociations"]


def _publish_function(self):
    function = self.backend.describe_function(self._get_param("Name"))
    function.stage, function.status = "LIVE", "UNASSOCIATED"
    return ActionResult({"FunctionSummary": function.function_summary, "ETag": function.etag})


def _permission_without_conditional_statements(self, action, resource):
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    policy["Statement"] = [s for s in statements if "Condition" not in s]
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


_dynamodb_lock = threading.Lock()
_dynamodb_call_action = dynamodb_responses.DynamoHandler.call_action


def _dynamodb_one_request_at_a_time(self):
    with _dynamodb_lock:
        return _dynamodb_call_action(self)


def _stream_records_reach_no_function(self, function_arn, items, source):
    # Called by the table's stream shard after each write, for each mapping on the table. A falsy
    # answer leaves the records in the shard, where GetRecords still finds them.
    return ""


_certificate_init = cloudfront.ViewerCertificate.__init__


def _default_certificate_has_no_ssl_method(self, config):
    _certificate_init(self, config)
    if self.cloud_front_default_certificate and not config.get("SSLSupportMethod"):
        self.ssl_support_method = None


cloudfront.Origin.__init__ = _origin_keeps_its_access_control
cloudfront.DefaultCacheBehaviour.__init__ = _behaviour_keeps_no_forwarded_values
cloudfront.ViewerCertificate.__init__ = _default_certificate_has_no_ssl_method
cloudfront_urls.url_paths["{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$"] = (
    cloudfront_responses.CloudFrontResponse.dispatch
)
cloudfront_responses.CloudFrontResponse.publish_function = _publish_function
s3.FakeBucket.get_permission = _permission_without_conditional_statements
dynamodb_responses.DynamoHandler.call_action = _dynamodb_one_request_at_a_time
awslambda.LambdaBackend.send_dynamodb_items = _stream_records_reach_no_function


def serve(host):
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"listening on {port}", flush=True)
    # Nothing else is written to standard output: the caller reads only the first line.
    sys.stdout = sys.stderr
    # SIGTERM ends it as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1")
