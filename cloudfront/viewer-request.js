// thumbforge viewer-request function (CloudFront Functions, runtime cloudfront-js-2.0).
//
// Deployed as is but for one line: Terraform (terraform/cdn.tf) reads this file with file() and
// replaces the NEGOTIATED line with the formats the configuration writes; tests/run.test.mjs runs
// it the same way in a node:vm context. So: no import/export/require, and only what the 2.0
// runtime supports (ES 5.1 plus const/let, template literals and async/await; strict mode is
// implied). The local edge does the same rewrite in Rust (crates/dev/src/viewer.rs), checked
// against the same test objects.
//
// 1. "/" and any other path ending in "/" get "index.html" appended (not under /api/ or /thumbs/).
// 2. "/thumbs/{id}/{width}" without an extension gets the extension of the first NEGOTIATED
//    format whose media type the Accept header lists (q > 0), ".jpg" otherwise, so one URL serves
//    the best format that was written. The rewritten URI is the cache key, so the formats are
//    cached apart without forwarding Accept to the origin.
//    {id} must be a canonical lower-case UUID and {width} 1 to 5 digits without a leading zero.
// Every other request passes through untouched.

// The formats written besides JPEG, best first (thumbnails.formats in thumbforge.toml). This line
// is replaced at deploy; as committed it holds the default configuration's list.
const NEGOTIATED = [{"extension":"webp","media_type":"image/webp"}];

const THUMBNAIL_WITHOUT_EXTENSION =
  /^\/thumbs\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([1-9][0-9]{0,4})$/;

// The values of a header, whether CloudFront gives one value or several (multiValue).
function headerValues(headers, name) {
  const header = headers ? headers[name] : undefined;
  if (!header) {
    return [];
  }
  if (header.multiValue && header.multiValue.length > 0) {
    const values = [];
    for (let i = 0; i < header.multiValue.length; i++) {
      values.push(String(header.multiValue[i].value));
    }
    return values;
  }
  return typeof header.value === "string" ? [header.value] : [];
}

// Whether an Accept header lists mediaType with a non-zero quality. "image/*" and "*/*" do not
// count: browsers that decode WebP or AVIF name it explicitly.
function accepts(headers, mediaType) {
  const ranges = headerValues(headers, "accept").join(",").split(",");
  for (let i = 0; i < ranges.length; i++) {
    const parts = ranges[i].split(";");
    if (parts[0].trim().toLowerCase() !== mediaType) {
      continue;
    }
    let quality = 1;
    for (let j = 1; j < parts.length; j++) {
      const pair = parts[j].split("=");
      if (pair.length === 2 && pair[0].trim().toLowerCase() === "q") {
        quality = parseFloat(pair[1].trim());
      }
    }
    if (quality > 0) {
      return true;
    }
  }
  return false;
}

// The URI to fetch from the origin for a viewer's URI.
function rewriteUri(uri, headers) {
  const thumbnail = THUMBNAIL_WITHOUT_EXTENSION.exec(uri);
  if (thumbnail) {
    let extension = "jpg";
    for (let i = 0; i < NEGOTIATED.length; i++) {
      if (accepts(headers, NEGOTIATED[i].media_type)) {
        extension = NEGOTIATED[i].extension;
        break;
      }
    }
    return `/thumbs/${thumbnail[1]}/${thumbnail[2]}.${extension}`;
  }
  if (uri.charAt(uri.length - 1) === "/" && uri.indexOf("/api/") !== 0 && uri.indexOf("/thumbs/") !== 0) {
    return `${uri}index.html`;
  }
  return uri;
}

async function handler(event) {
  const request = event.request;
  request.uri = rewriteUri(request.uri, request.headers);
  return request;
}
