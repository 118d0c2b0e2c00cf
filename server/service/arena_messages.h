// ArenaMessageAllocator: puts a unary call's request and response on one
// protobuf Arena.
//
// A RunBatch call carries up to hundreds of thousands of nested messages
// (jobs, their params, results, their durations). On an arena each costs a
// pointer bump instead of a malloc, sits next to its neighbours, and all of
// them are freed at once when gRPC releases the call, instead of one free
// each. Register it with the generated service's SetMessageAllocatorFor_*.
//
// Thread-safe: gRPC calls AllocateMessages() from any thread; the arena
// itself may be allocated from by several threads at once (sinks fill
// results concurrently).
#ifndef JOBGROUP_SERVER_SERVICE_ARENA_MESSAGES_H_
#define JOBGROUP_SERVER_SERVICE_ARENA_MESSAGES_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/message_allocator.h"

namespace jobgroup {

// The arena of one call: small calls fit the first block; big ones grow
// to 1 MiB blocks.
inline google::protobuf::ArenaOptions CallArenaOptions() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 4096;
  o.max_block_size = 1 << 20;
  return o;
}

// FirstArenaBlock: the first block of an arena that belongs to a call
// object, so that a small request parsed onto it costs no allocation of its
// own. Declare it before the arena it starts, made with
// CallArenaOptions(&block).
struct FirstArenaBlock {
  alignas(16) char bytes[4096];
};

// The options of a call's arena that starts in `first`.
inline google::protobuf::ArenaOptions CallArenaOptions(FirstArenaBlock* first) {
  google::protobuf::ArenaOptions o = CallArenaOptions();
  o.initial_block = first->bytes;
  o.initial_block_size = sizeof(first->bytes);
  return o;
}

template <class Request, class Response>
class ArenaMessageAllocator : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(CallArenaOptions()) {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

// RawRequestArenaAllocator: the same for a call whose request gRPC hands
// over unparsed (a grpc::ByteBuffer, parsed by the call once it has checked
// the token and the request's shape): the response is on the arena, and
// the call parses its request onto the same arena (response->GetArena()).
template <class Response>
class RawRequestArenaAllocator
    : public grpc::MessageAllocator<grpc::ByteBuffer, Response> {
 public:
  grpc::MessageHolder<grpc::ByteBuffer, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder : public grpc::MessageHolder<grpc::ByteBuffer, Response> {
   public:
    Holder() : arena_(CallArenaOptions()) {
      this->set_request(&request_);
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    grpc::ByteBuffer request_;
    google::protobuf::Arena arena_;
  };
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_ARENA_MESSAGES_H_
