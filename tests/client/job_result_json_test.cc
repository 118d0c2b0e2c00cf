// The fast JobResult JSON writer against protobuf's own JSON mapping: the
// same bytes for every code point in strings and for randomized results.
#include "client/job_result_json.h"

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::JobResult;

std::string Reference(const JobResult& r) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  std::string json;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(r, &json, options).ok());
  return json;
}

void AppendUtf8(uint32_t c, std::string* s) {
  if (c < 0x80) {
    s->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    s->push_back(static_cast<char>(0xC0 | (c >> 6)));
    s->push_back(static_cast<char>(0x80 | (c & 63)));
  } else if (c < 0x10000) {
    s->push_back(static_cast<char>(0xE0 | (c >> 12)));
    s->push_back(static_cast<char>(0x80 | ((c >> 6) & 63)));
    s->push_back(static_cast<char>(0x80 | (c & 63)));
  } else {
    s->push_back(static_cast<char>(0xF0 | (c >> 18)));
    s->push_back(static_cast<char>(0x80 | ((c >> 12) & 63)));
    s->push_back(static_cast<char>(0x80 | ((c >> 6) & 63)));
    s->push_back(static_cast<char>(0x80 | (c & 63)));
  }
}

bool IsScalar(uint32_t c) {
  return c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF);
}

// The writer knows JobResult's fields by hand: a field added to the proto
// must be added to the writer too, and this says so.
TEST(JobResultJsonTest, KnowsEveryFieldOfJobResult) {
  const google::protobuf::Descriptor* d = JobResult::descriptor();
  std::string fields;
  for (int i = 0; i < d->field_count(); ++i) {
    absl::StrAppend(&fields, d->field(i)->number(), ":", d->field(i)->name(),
                    " ");
  }
  EXPECT_EQ(fields,
            "1:index 2:id 3:outcome 4:output 5:error 6:attempts 7:queue_time "
            "8:run_time 9:served_by ")
      << "JobResult changed: update client/job_result_json.cc";
}

// Every code point of the Basic Multilingual Plane's first part, the
// neighbours of every range protobuf escapes, and a sample of the rest, as
// an id and as an error message.
TEST(JobResultJsonTest, EscapesEachCodePointAsProtobufDoes) {
  std::vector<uint32_t> points;
  for (uint32_t c = 0; c < 0x3000; ++c) points.push_back(c);
  for (uint32_t c : {0x0600u, 0x0603u, 0x06DDu, 0x070Fu, 0x17B4u, 0x17B5u,
                     0xFEFFu, 0xFFF9u, 0xFFFBu, 0xFFFFu, 0x10000u, 0x1D173u,
                     0x1D17Au, 0xE0001u, 0xE0020u, 0xE007Fu, 0x10FFFFu}) {
    for (uint32_t d = c - 2; d <= c + 2; ++d) points.push_back(d);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) points.push_back(rng() % 0x110000);
  for (uint32_t c : points) {
    if (!IsScalar(c)) continue;
    JobResult r;
    std::string s = "a";
    AppendUtf8(c, &s);
    s += "z";
    r.set_id(s);
    r.mutable_error()->set_message(s);
    ASSERT_EQ(JobResultToJson(r), Reference(r))
        << "code point U+" << std::hex << c;
  }
}

std::string RandomText(std::mt19937_64& rng) {
  static constexpr uint32_t kTricky[] = {
      '"',    '\\',    '<',     '>',     '\'',   '/',     '&',    0,
      '\n',   '\t',    0x7F,    0x85,    0xA0,   0xAD,    0x2028, 0x2029,
      0xFEFF, 0x1F600, 0xE0041, 0x1D173, 0xFFFD, 0x10FFFF};
  std::string s;
  int n = static_cast<int>(rng() % 24);
  for (int i = 0; i < n; ++i) {
    uint32_t c;
    switch (rng() % 4) {
      case 0:
        c = 0x20 + rng() % 0x5F;
        break;
      case 1:
        c = kTricky[rng() % (sizeof(kTricky) / sizeof(kTricky[0]))];
        break;
      case 2:
        c = rng() % 0x20;
        break;
      default:
        c = rng() % 0x110000;
        if (!IsScalar(c)) c = 0xE9;
    }
    AppendUtf8(c, &s);
  }
  return s;
}

void RandomDuration(std::mt19937_64& rng, google::protobuf::Duration* d) {
  int64_t seconds =
      static_cast<int64_t>(rng() % 4 == 0 ? rng() % 400000 : rng() % 3);
  int32_t nanos;
  switch (rng() % 4) {
    case 0:
      nanos = 0;
      break;
    case 1:
      nanos = static_cast<int32_t>(rng() % 1000) * 1'000'000;
      break;
    case 2:
      nanos = static_cast<int32_t>(rng() % 1'000'000) * 1000;
      break;
    default:
      nanos = static_cast<int32_t>(rng() % 1'000'000'000);
  }
  if (rng() % 10 == 0) {
    seconds = -seconds;
    nanos = -nanos;
  }
  d->set_seconds(seconds);
  d->set_nanos(nanos);
}

TEST(JobResultJsonTest, RandomResultsAreTheBytesOfProtobufsMapping) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("JOB_RESULT_JSON_SEED"))
    seed = std::strtoull(s, nullptr, 10);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    JobResult r;
    r.set_index(rng() % 3 == 0 ? rng() : rng() % 100000);
    if (rng() % 2) r.set_id(RandomText(rng));
    r.set_outcome(static_cast<jobgroup::v1::JobOutcome>(rng() % 8));
    if (rng() % 2) {
      std::string bytes(rng() % 40, '\0');
      for (char& b : bytes) b = static_cast<char>(rng());
      r.set_output(bytes);
    }
    if (rng() % 2) {
      r.mutable_error()->set_code(static_cast<int32_t>(rng() % 20) - 2);
      r.mutable_error()->set_message(RandomText(rng));
    }
    r.set_attempts(static_cast<uint32_t>(rng() % 4 == 0 ? rng() : rng() % 5));
    r.set_served_by(static_cast<uint32_t>(rng() % 3));
    if (rng() % 2) RandomDuration(rng, r.mutable_queue_time());
    if (rng() % 2) RandomDuration(rng, r.mutable_run_time());
    ASSERT_EQ(JobResultToJson(r), Reference(r))
        << "case " << i << "; rerun with JOB_RESULT_JSON_SEED=" << seed;
  }
}

TEST(JobResultJsonTest, AppendsToWhatIsThere) {
  JobResult r;
  r.set_id("x");
  std::string out = "prefix ";
  AppendJobResultJson(r, &out);
  EXPECT_EQ(out, "prefix " + Reference(r));
}

}  // namespace
}  // namespace jobgroup::client
