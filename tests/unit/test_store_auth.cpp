// SHA-256 and HMAC-SHA-256 against the published vectors, the store's sealing of values, and
// where the job token comes from.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/comm/launch_env.h"
#include "core/comm/store_auth.h"
#include "core/report/errors.h"
#include "core/report/sha256.h"

using namespace dtbench;

namespace {

std::string sha_hex(const std::string& s) { return to_hex(Sha256().update(s).finish()); }
std::string hmac_hex(const std::string& key, const std::string& s) {
  return to_hex(HmacSha256(key).update(s).finish());
}

// What `f` throws as an Error: its exit code and message ({0, ""} when it returns).
template <class F>
std::pair<int, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {static_cast<int>(e.code()), e.what()};
  }
  return {0, ""};
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/dtbench-unit.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

const std::string kToken = "0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("SHA-256: FIPS 180-4 examples, in one piece and in odd pieces") {
  CHECK(sha_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha_hex(two_blocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  for (std::size_t piece : {1u, 7u, 63u, 64u, 65u, 1000u}) {
    Sha256 h;
    for (std::size_t i = 0; i < million.size(); i += piece)
      h.update(million.data() + i, std::min(piece, million.size() - i));
    CHECK(to_hex(h.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("HMAC-SHA-256: RFC 4231 test cases 1, 2, 4, 6 and 7") {
  CHECK(hmac_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hmac_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4 += static_cast<char>(i);
  CHECK(hmac_hex(key4, std::string(50, '\xcd')) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  CHECK(hmac_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CHECK(hmac_hex(std::string(131, '\xaa'),
                 "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
                 "to be hashed before being used by the HMAC algorithm.") ==
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_CASE("a sealed store value opens under the same token and name only") {
  const StoreAuth auth(kToken);
  for (const std::string& payload : {std::string(), std::string("x"), std::string(5000, '\x7f')}) {
    CHECK(auth.open("world/ag0/1", auth.seal("world/ag0/1", payload)) == payload);
  }
  // Key names: fixed per token and name, and they do not reveal the name.
  CHECK(auth.key("world/ag0/1") == StoreAuth(kToken).key("world/ag0/1"));
  CHECK(auth.key("world/ag0/1") != auth.key("world/ag0/0"));
  CHECK(auth.key("world/ag0/1") != StoreAuth(kToken + "x").key("world/ag0/1"));
  CHECK(auth.key("world/ag0/1").find("world") == std::string::npos);

  const auto sealed = auth.seal("world/ag3/1", "the rank's bytes");
  auto refused = [&](const std::string& name, std::vector<uint8_t> value, const StoreAuth& by) {
    const auto [code, what] = error_of([&] { by.open(name, value); });
    CHECK(code == 3);
    CHECK(what.find("'" + name + "'") != std::string::npos);  // names the key
    return what;
  };
  CHECK(refused("world/ag3/1", sealed, StoreAuth(kToken + "x")).find("authentication") != std::string::npos);
  CHECK(refused("world/ag3/1", sealed, StoreAuth("")).find("authentication") != std::string::npos);
  CHECK(refused("world/ag3/0", sealed, auth).find("authentication") != std::string::npos);  // moved to another key
  auto flipped = sealed;
  flipped[2] ^= 1;
  CHECK(refused("world/ag3/1", flipped, auth).find("authentication") != std::string::npos);
  auto cut = sealed;
  cut.pop_back();
  CHECK(refused("world/ag3/1", cut, auth).find("claims") != std::string::npos);
  auto grown = sealed;
  grown.insert(grown.begin(), 0);
  CHECK(refused("world/ag3/1", grown, auth).find("claims 16 bytes but holds 17") != std::string::npos);
  CHECK(refused("world/ag3/1", {1, 2, 3}, auth).find("holds 3 bytes") != std::string::npos);
  // A value written by someone without the token: whatever framing it imitates, it fails.
  CHECK(refused("world/ag3/1", StoreAuth("someone else's guess").seal("world/ag3/1", "forged"), auth)
            .find("authentication") != std::string::npos);
}

TEST_CASE("the job token: from the variable or a file, checked") {
  CHECK(read_job_token({}).value.empty());
  CHECK(read_job_token({{"DTBENCH_JOB_TOKEN", kToken}}).value == kToken);
  auto [code, what] = error_of([] { read_job_token({{"DTBENCH_JOB_TOKEN", "short"}}); });
  CHECK(code == 2);
  CHECK(what.find("DTBENCH_JOB_TOKEN: the job token has 5 characters") != std::string::npos);

  TempDir dir;
  const std::string file = dir.write("token", kToken + "\n");
  const auto t = read_job_token({{"DTBENCH_JOB_TOKEN_FILE", file}});
  CHECK(t.value == kToken);  // the file's newline is not part of it
  CHECK(t.source.find(file) != std::string::npos);
  CHECK(read_job_token({{"DTBENCH_JOB_TOKEN", kToken + "v"}, {"DTBENCH_JOB_TOKEN_FILE", file}}).value == kToken + "v");

  const std::string fifo = dir.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::pair<std::string, std::string> bad[] = {
      {dir.path + "/missing", "cannot open it"},
      {dir.path, "not a regular file"},
      {fifo, "not a regular file"},
      {dir.write("huge", std::string(5000, 'k')), "more than 4096"},
      {dir.write("empty", "\n"), "has 0 characters"},
  };
  for (const auto& file_and_cause : bad) {
    const std::string& path = file_and_cause.first;  // a lambda captures no structured binding (C++17)
    auto [c, w] = error_of([&] { read_job_token({{"DTBENCH_JOB_TOKEN_FILE", path}}); });
    CHECK(c == 2);
    CHECK(w.find("DTBENCH_JOB_TOKEN_FILE") != std::string::npos);
    CHECK(w.find(file_and_cause.second) != std::string::npos);
  }
}

TEST_CASE("a store beyond loopback needs the token; loopback may go without") {
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.3.2.1"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("192.0.2.1"));  // TEST-NET-1: resolved, never contacted
  CHECK(store_job_token({}, "127.0.0.1").value.empty());
  CHECK(store_job_token({{"DTBENCH_JOB_TOKEN", kToken}}, "192.0.2.1").value == kToken);
  auto [code, what] = error_of([] { store_job_token({}, "192.0.2.1"); });
  CHECK(code == 2);
  CHECK(what.find("DTBENCH_JOB_TOKEN is not set") != std::string::npos);
  CHECK(what.find("192.0.2.1") != std::string::npos);
}
