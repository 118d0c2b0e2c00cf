// ResultPrinter: writes the results of one run or process call to stdout in
// the chosen -o format as they arrive, and closes the output when the call
// ends:
//   jsonl  one JobResult per line (protobuf's JSON mapping);
//   wide   a header, then one row per result: index, id, outcome,
//          attempts, run time, and the error or the output's size;
//   json   one document: {"results":[...],  (with --results, streamed)
//          then the summary and the client's figures (AppendBatchJson());
//   table  nothing per result (the summary table is printed after End()).
// Memory stays bounded whatever the number of results.
//
// Thread-safety: not thread-safe; one thread calls Add() and End().
#ifndef JOBGROUP_CLIENT_RESULT_PRINTER_H_
#define JOBGROUP_CLIENT_RESULT_PRINTER_H_

#include <ostream>
#include <string>

#include "client/batch_report.h"
#include "client/output_format.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

class ResultPrinter {
 public:
  // `out` must outlive the printer. `with_results`: -o json carries the
  // results (--results). `decode_outputs` (--decode-outputs): each result
  // of jsonl and json gets an "outputText" member after protobuf's, the
  // output as a JSON string when it is valid UTF-8, null otherwise; the
  // members before it (base64 "output" included) are unchanged.
  ResultPrinter(std::ostream& out, OutputFormat format, bool with_results,
                bool decode_outputs = false);

  ResultPrinter(const ResultPrinter&) = delete;
  ResultPrinter& operator=(const ResultPrinter&) = delete;

  // ResultPrinter::Add() writes `result` (buffered; see Flush()).
  void Add(const jobgroup::v1::JobResult& result);

  // ResultPrinter::Flush() hands what is buffered to the stream and flushes
  // it, so a reader of stdout sees each result as its message arrives.
  void Flush();

  // ResultPrinter::End() writes what the format puts after the results (the
  // rest of the json document) and flushes.
  void End(const BatchEnd& end);

  // ResultPrinter::WideRow() is the row of `result` in -o wide, without the
  // newline; WideHeader() the header above the rows. Public for tests.
  static std::string WideRow(const jobgroup::v1::JobResult& result);
  static std::string WideHeader();

  // ResultPrinter::AppendResultJson() appends `result` as protobuf's JSON
  // and, with `decode_outputs`, the "outputText" member. Public for tests.
  static void AppendResultJson(const jobgroup::v1::JobResult& result,
                               bool decode_outputs, std::string* out);

 private:
  std::ostream& out_;
  const OutputFormat format_;
  const bool with_results_;
  const bool decode_outputs_;
  std::string buffer_;
  bool started_ = false;
  bool any_result_ = false;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_RESULT_PRINTER_H_
