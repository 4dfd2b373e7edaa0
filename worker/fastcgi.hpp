// FastCGI 1.0 wire constants (Open Market, "FastCGI Specification", 1996),
// shared by the codec and by the tests that build records by hand.
#pragma once

#include <cstddef>
#include <cstdint>

namespace drover::fcgi {

inline constexpr uint8_t kVersion1 = 1;
inline constexpr size_t kHeaderLength = 8;
/// contentLength is 16 bits.
inline constexpr size_t kMaxContentLength = 65535;
/// The largest STDOUT content the codec writes per record: a multiple of 8,
/// so only the last record of a body needs padding.
inline constexpr size_t kMaxStdoutContent = 65528;

/// requestId of management records.
inline constexpr uint16_t kNullRequestId = 0;

enum RecordType : uint8_t {
    kBeginRequest = 1,
    kAbortRequest = 2,
    kEndRequest = 3,
    kParams = 4,
    kStdin = 5,
    kStdout = 6,
    kStderr = 7,
    kData = 8,
    kGetValues = 9,
    kGetValuesResult = 10,
    kUnknownType = 11,
    kMaxType = kUnknownType,
};

enum Role : uint16_t {
    kResponder = 1,
    kAuthorizer = 2,
    kFilter = 3,
};

/// FCGI_BeginRequestBody.flags
inline constexpr uint8_t kKeepConn = 1;

/// FCGI_EndRequestBody.protocolStatus
enum ProtocolStatus : uint8_t {
    kRequestComplete = 0,
    kCantMpxConn = 1,
    kOverloaded = 2,
    kUnknownRole = 3,
};

/// Content sizes of the fixed-layout bodies.
inline constexpr size_t kBeginRequestBodyLength = 8;
inline constexpr size_t kEndRequestBodyLength = 8;
inline constexpr size_t kUnknownTypeBodyLength = 8;

/// FCGI_GET_VALUES variable names.
inline constexpr const char* kMaxConns = "FCGI_MAX_CONNS";
inline constexpr const char* kMaxReqs = "FCGI_MAX_REQS";
inline constexpr const char* kMpxsConns = "FCGI_MPXS_CONNS";

} // namespace drover::fcgi
