// Tests of JSON Lines job reading: good, blank and bad lines, and an endless
// input read one line at a time.
#include "client/jsonl_job_reader.h"

#include <sstream>
#include <streambuf>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::Job;
using ::testing::HasSubstr;

// "job", "end", or the error's message.
std::string Next(JobSource& source, Job& job) {
  absl::StatusOr<bool> more = source.Next(job);
  if (!more.ok()) return std::string(more.status().message());
  return *more ? "job" : "end";
}

TEST(JsonlJobReaderTest, ReadsEveryFieldInProtobufJsonForm) {
  std::istringstream in(
      R"({"id":"a","kind":"sleep","params":{"ms":"200"},"timeout":"1.5s",)"
      R"("backend":"db","payload":"aGk=","fallbacks":[{"kind":"echo"}]})"
      "\n"
      R"({"kind":"echo"})");
  JsonlJobReader reader(in, "jobs.jsonl");
  Job job;
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.id(), "a");
  EXPECT_EQ(job.kind(), "sleep");
  EXPECT_EQ(job.params().at("ms"), "200");
  EXPECT_EQ(job.timeout().seconds(), 1);
  EXPECT_EQ(job.timeout().nanos(), 500000000);
  EXPECT_EQ(job.backend(), "db");
  EXPECT_EQ(job.payload(), "hi");
  ASSERT_EQ(job.fallbacks_size(), 1);
  EXPECT_EQ(job.fallbacks(0).kind(), "echo");
  // The last line has no newline; the previous job's fields do not leak.
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.kind(), "echo");
  EXPECT_EQ(job.id(), "");
  EXPECT_TRUE(job.params().empty());
  EXPECT_EQ(Next(reader, job), "end");
  EXPECT_EQ(Next(reader, job), "end");
  EXPECT_EQ(reader.line_number(), 2);
}

// Item 4: params written as numbers or booleans are taken as strings,
// spelled exactly as in the line, in fallbacks too.
TEST(JsonlJobReaderTest, NumbersAndBooleansAsParamsAreTakenAsTheirText) {
  std::istringstream in(
      R"({"kind":"sleep","params":{"ms":200,"ratio":1.50,"big":-2E+3,)"
      R"("n":12345678901234567890,"on":true,"off":false,"s":"x"},)"
      R"("fallbacks":[{"kind":"echo","params":{"ms":0}}]})"
      "\n"
      R"({ "kind" : "sleep" , "params" : { "ms" : 5 } })");
  JsonlJobReader reader(in, "jobs.jsonl");
  Job job;
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.kind(), "sleep");
  EXPECT_EQ(job.params().at("ms"), "200");
  EXPECT_EQ(job.params().at("ratio"), "1.50");
  EXPECT_EQ(job.params().at("big"), "-2E+3");
  EXPECT_EQ(job.params().at("n"), "12345678901234567890");
  EXPECT_EQ(job.params().at("on"), "true");
  EXPECT_EQ(job.params().at("off"), "false");
  EXPECT_EQ(job.params().at("s"), "x");
  ASSERT_EQ(job.fallbacks_size(), 1);
  EXPECT_EQ(job.fallbacks(0).params().at("ms"), "0");
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.params().at("ms"), "5");
}

// Only params are converted: a number where a string belongs elsewhere, an
// object as a param, or a malformed number is still an error naming the
// line, as protobuf words it.
TEST(JsonlJobReaderTest, OtherNonStringValuesAreStillErrors) {
  for (const char* line : {
           R"({"kind":5,"params":{"ms":5}})",
           R"({"kind":"sleep","params":{"ms":{"v":5}}})",
           R"({"kind":"sleep","params":{"ms":05}})",
           R"({"kind":"sleep","params":{"ms":5.}})",
           R"({"kind":"sleep","params":{"ms":5})",
       }) {
    std::istringstream in(line);
    JsonlJobReader reader(in, "jobs.jsonl");
    Job job;
    EXPECT_THAT(Next(reader, job), HasSubstr("jobs.jsonl line 1: not a "
                                             "jobgroup.v1.Job"))
        << line;
  }
}

TEST(JsonlJobReaderTest, SkipsBlankLinesAndCarriageReturns) {
  std::istringstream in(
      "\n   \n{\"kind\":\"a\"}\r\n\t\r\n\n{\"kind\":\"b\"}\n\n");
  JsonlJobReader reader(in, "jobs.jsonl");
  Job job;
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.kind(), "a");
  EXPECT_EQ(reader.line_number(), 3);
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_EQ(job.kind(), "b");
  EXPECT_EQ(reader.line_number(), 6);
  EXPECT_EQ(Next(reader, job), "end");
}

TEST(JsonlJobReaderTest, EmptyInputHasNoJobs) {
  std::istringstream in("");
  JsonlJobReader reader(in, "empty.jsonl");
  Job job;
  EXPECT_EQ(Next(reader, job), "end");
}

struct BadLineCase {
  std::string line;
  std::string problem;
};

class JsonlBadLineTest : public ::testing::TestWithParam<BadLineCase> {};

TEST_P(JsonlBadLineTest, ErrorNamesInputLineNumberAndProblem) {
  std::istringstream in(absl::StrCat("{\"kind\":\"echo\"}\n\n", GetParam().line,
                                     "\n{\"kind\":\"x\"}\n"));
  JsonlJobReader reader(in, "jobs.jsonl");
  Job job;
  ASSERT_EQ(Next(reader, job), "job");
  absl::StatusOr<bool> bad = reader.Next(job);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("jobs.jsonl line 3: "));
  EXPECT_THAT(bad.status().message(), HasSubstr(GetParam().problem));
  EXPECT_EQ(bad.status().message().find('\n'), std::string::npos);
  // The reader stays failed.
  EXPECT_FALSE(reader.Next(job).ok());
}

INSTANTIATE_TEST_SUITE_P(
    BadLines, JsonlBadLineTest,
    ::testing::Values(
        BadLineCase{"{\"kind\":", "not a jobgroup.v1.Job"},
        BadLineCase{"not json", "not a jobgroup.v1.Job"},
        BadLineCase{"{\"kind\":\"a\",\"colour\":\"red\"}", "colour"},
        BadLineCase{"{\"kind\":5}", "not a jobgroup.v1.Job"},
        BadLineCase{"{\"timeout\":\"soon\"}", "not a jobgroup.v1.Job"},
        BadLineCase{"[1,2]", "not a jobgroup.v1.Job"}));

// An endless input that makes one line each time the reader runs dry, and
// counts them: the reader must pull only what it needs.
class EndlessLines : public std::streambuf {
 public:
  int lines_made() const { return lines_made_; }

 protected:
  int_type underflow() override {
    current_ = absl::StrCat(R"({"id":")", lines_made_, R"(","kind":"sleep",)",
                            R"("payload":")", std::string(1000, 'A'), "\"}\n");
    ++lines_made_;
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }
  std::streamsize showmanyc() override { return 0; }

 private:
  std::string current_;
  int lines_made_ = 0;
};

TEST(JsonlJobReaderTest, EndlessInputIsReadLazily) {
  EndlessLines lines;
  std::istream in(&lines);
  JsonlJobReader reader(in, "stdin");
  Job job;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(Next(reader, job), "job");
    EXPECT_EQ(job.id(), absl::StrCat(i));
    EXPECT_EQ(job.payload().size(), 750u);  // 1000 base64 chars.
    // At most the line being parsed has been produced.
    ASSERT_LE(lines.lines_made(), i + 1);
  }
  EXPECT_EQ(reader.line_number(), 1000);
}

TEST(JsonlJobReaderTest, ReadyNowReflectsBufferedInput) {
  std::istringstream in("{\"kind\":\"a\"}\n{\"kind\":\"b\"}\n");
  JsonlJobReader reader(in, "jobs.jsonl");
  Job job;
  EXPECT_TRUE(reader.ReadyNow());
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_TRUE(reader.ReadyNow());
  ASSERT_EQ(Next(reader, job), "job");
  EXPECT_FALSE(reader.ReadyNow());

  EndlessLines lines;
  std::istream endless(&lines);
  JsonlJobReader waiting(endless, "stdin");
  // Nothing buffered and nothing known to be ready: Process() would flush.
  EXPECT_FALSE(waiting.ReadyNow());
}

TEST(JsonlJobReaderTest, ManyLinesAreAllRead) {
  std::string text;
  constexpr int kLines = 100000;
  for (int i = 0; i < kLines; ++i) {
    absl::StrAppend(&text, R"({"kind":"echo","params":{"n":")", i, "\"}}\n");
  }
  std::istringstream in(text);
  JsonlJobReader reader(in, "big.jsonl");
  Job job;
  int count = 0;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(job);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    ASSERT_EQ(job.params().at("n"), absl::StrCat(count));
    ++count;
  }
  EXPECT_EQ(count, kLines);
}

}  // namespace
}  // namespace jobgroup::client
