// Tests of the http job's params (every error names params.<name>), URL
// parsing with curl_url(), status code sets, and the output format.
#include "server/kinds/http_params.h"

#include "gtest/gtest.h"
#include "server/kinds/http_output.h"

namespace jobgroup {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

class HttpParamsTest : public ::testing::Test {
 protected:
  HttpParamsTest()
      : policy_(*HostPolicy::Create({"example.com:*", "127.0.0.1:*"},
                                    {"127.0.0.1:*"})) {}
  absl::StatusOr<HttpJobParams> Parse(Params params) {
    JobSpec job;
    job.kind = "http";
    job.params = std::move(params);
    return ParseHttpJobParams(job, policy_, options_);
  }
  // The error message of parsing `params`; fails when they are accepted.
  std::string Error(Params params) {
    absl::StatusOr<HttpJobParams> p = Parse(std::move(params));
    EXPECT_FALSE(p.ok());
    if (p.ok()) return "";
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(p.status().message());
  }
  HostPolicy policy_;
  HttpOptions options_;
};

TEST_F(HttpParamsTest, DefaultsAreGetAccept2xxOneMebibyteNoRedirects) {
  auto p = Parse({{"url", "http://Example.com/a?b=c"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->url.url, "http://example.com/a?b=c");
  EXPECT_EQ(p->url.host, "example.com");
  EXPECT_EQ(p->url.port, 80);
  EXPECT_EQ(p->method, "GET");
  EXPECT_TRUE(p->accept.Contains(200));
  EXPECT_TRUE(p->accept.Contains(299));
  EXPECT_FALSE(p->accept.Contains(304));
  EXPECT_EQ(p->max_response_bytes, 1 << 20);
  EXPECT_FALSE(p->follow_redirects);
  EXPECT_EQ(p->max_retry_after, absl::Seconds(30));
}

TEST_F(HttpParamsTest, EveryParamIsParsed) {
  auto p = Parse({{"url", "https://example.com:8443/x"},
                  {"method", "post"},
                  {"headers",
                   "Content-Type: application/json\r\nX-A: 1\n\n"
                   "X-Empty:"},
                  {"accept", "200-299, 304"},
                  {"max_response_bytes", "10"},
                  {"follow_redirects", "true"},
                  {"max_retry_after_ms", "1500"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->url.port, 8443);
  EXPECT_EQ(p->method, "POST");
  ASSERT_EQ(p->headers.size(), 3u);
  EXPECT_EQ(p->headers[0].first, "Content-Type");
  EXPECT_EQ(p->headers[0].second, "application/json");
  EXPECT_EQ(p->headers[2].second, "");
  EXPECT_TRUE(p->accept.Contains(304));
  EXPECT_EQ(p->accept.text(), "200-299,304");
  EXPECT_EQ(p->max_response_bytes, 10);
  EXPECT_TRUE(p->follow_redirects);
  EXPECT_EQ(p->max_retry_after, absl::Milliseconds(1500));
}

TEST_F(HttpParamsTest, BadParamsAreNamed) {
  EXPECT_EQ(Error({}), "params.url: is required");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"methd", "GET"}}),
            "params.methd: unknown param (known: url, method, headers, "
            "accept, max_response_bytes, follow_redirects, "
            "max_retry_after_ms)");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"method", "PATCH"}}),
            "params.method: \"PATCH\" is not one of GET, POST, PUT, DELETE, "
            "HEAD");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"accept", "2xx"}}),
            "params.accept: \"2xx\" is not a status code or range within "
            "100-599");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"accept", "300-200"}}),
            "params.accept: \"300-200\" is not a status code or range within "
            "100-599");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"accept", ","}}),
            "params.accept: no status codes (want e.g. 200-299,304)");
  EXPECT_EQ(
      Error({{"url", "http://example.com/"}, {"max_response_bytes", "-1"}}),
      "params.max_response_bytes: \"-1\" is not an integer in [0, 67108864]");
  EXPECT_EQ(
      Error({{"url", "http://example.com/"}, {"follow_redirects", "maybe"}}),
      "params.follow_redirects: \"maybe\" is not true or false");
  EXPECT_EQ(
      Error({{"url", "http://example.com/"}, {"max_retry_after_ms", "40000"}}),
      "params.max_retry_after_ms: \"40000\" is not an integer in [0, 30000]");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"headers", "NoColon"}}),
            "params.headers: line \"NoColon\" is not \"Name: value\"");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"headers", "Bad Name: x"}}),
            "params.headers: header name \"Bad Name\" has a character not "
            "allowed");
  EXPECT_EQ(Error({{"url", "http://example.com/"}, {"headers", "Host: evil"}}),
            "params.headers: header Host is set by the server");
  EXPECT_EQ(
      Error({{"url", "http://example.com/"}, {"headers", "X: a\rInjected: b"}}),
      "params.headers: header X: control characters in value");
}

TEST_F(HttpParamsTest, UrlsMustBeHttpWithAnAllowedHost) {
  EXPECT_EQ(Error({{"url", "file:///etc/passwd"}}),
            "params.url: scheme \"file\" is not allowed (only http and https)");
  EXPECT_EQ(Error({{"url", "gopher://example.com/1"}}),
            "params.url: scheme \"gopher\" is not allowed (only http and "
            "https)");
  EXPECT_EQ(Error({{"url", "ftp://example.com/"}}),
            "params.url: scheme \"ftp\" is not allowed (only http and https)");
  EXPECT_EQ(Error({{"url", "dict://example.com:11211/stat"}}),
            "params.url: scheme \"dict\" is not allowed (only http and https)");
  EXPECT_NE(Error({{"url", "not a url"}})
                .find("params.url: \"not a url\" is "
                      "not a valid URL"),
            std::string::npos);
  EXPECT_EQ(
      Error({{"url", "http://evil.test/"}}),
      "params.url: host \"evil.test\" port 80 is not allowed (not matched "
      "by --http_allow; a pattern without a port allows only 80 and 443)");
  EXPECT_EQ(Error({{"url", "http://user:pw@example.com/"}}),
            "params.url: credentials in the URL are not accepted (send an "
            "Authorization header instead)");
  EXPECT_EQ(Error({{"url", "http://example.com:99999/"}}).substr(0, 12),
            "params.url: ");
  // Other spellings of 127.0.0.1 are the same host to the allow-list.
  auto p = Parse({{"url", "http://2130706433:8080/"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->url.host, "127.0.0.1");
}

TEST(HttpParamsSsrfTest, EverySpellingOfAnInternalAddressIsRefused) {
  HostPolicy any = *HostPolicy::Create({"*:*"}, {});
  HttpOptions options;
  for (const char* url :
       {"http://127.1/", "http://0x7f000001/", "http://2130706433/",
        "http://[::ffff:127.0.0.1]/", "http://[::1]:8080/", "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
        "http://[fd00::1]/", "http://[::ffff:a9fe:a9fe]/"}) {
    JobSpec job;
    job.params = {{"url", url}};
    absl::StatusOr<HttpJobParams> p = ParseHttpJobParams(job, any, options);
    ASSERT_FALSE(p.ok()) << url;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("params.url: refused to connect to "),
              std::string::npos)
        << url << ": " << p.status();
  }
  JobSpec job;
  job.params = {{"url", "http://93.184.216.34/"}};
  EXPECT_TRUE(ParseHttpJobParams(job, any, options).ok());
}

TEST(HttpOutputTest, JsonHasStatusHeadersAndTextBody) {
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "text/plain"},
               {"Vary", "a"},
               {"vary", "b"},
               {"X-Quote", "say \"hi\""}};
  r.body = "héllo\n";
  EXPECT_EQ(FormatHttpOutput(r, "http://x/", 1),
            "{\"status\":200,\"url\":\"http://x/\",\"redirects\":1,"
            "\"headers\":{\"content-type\":\"text/plain\",\"vary\":\"a, b\","
            "\"x-quote\":\"say \\\"hi\\\"\"},\"body\":\"héllo\\n\","
            "\"body_encoding\":\"text\",\"body_bytes\":7,\"truncated\":false}");
}

TEST(HttpOutputTest, BinaryBodiesAreBase64AndCutCharactersDropped) {
  HttpResponse r;
  r.status = 200;
  r.body = std::string("\x00\xff\x01", 3);
  EXPECT_NE(FormatHttpOutput(r, "u", 0).find(
                "\"body\":\"AP8B\",\"body_encoding\":\"base64\""),
            std::string::npos);
  r.body = "ab\xc3";  // "é" cut after its first byte by the size limit.
  r.truncated = true;
  EXPECT_NE(FormatHttpOutput(r, "u", 0).find(
                "\"body\":\"ab\",\"body_encoding\":\"text\","
                "\"body_bytes\":2,\"truncated\":true"),
            std::string::npos);
}

TEST(HttpOutputTest, JsonStringEscapesControlsAndStrayBytes) {
  EXPECT_EQ(JsonString("a\x01\t\\"), "\"a\\u0001\\t\\\\\"");
  EXPECT_EQ(JsonString("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(ValidUtf8Prefix("ok\xed\xa0\x80"), 2u);  // A surrogate.
}

}  // namespace
}  // namespace jobgroup
