// MPI start-up and shutdown, and the MPI control plane.
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>

#include "core/comm/mpi_world.h"
#include "core/comm/watchdog.h"
#include "core/report/errors.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

bool g_started = false;

class MpiPlane final : public ControlPlane {
 public:
  explicit MpiPlane(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiPlane() override {
    if (comm_ != MPI_COMM_NULL && !finalized()) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string kind() const override { return "mpi"; }

  std::vector<std::string> all_gather(const std::string& mine) override {
    Watchdog::Call call(Watchdog::instance(), {"control", round_++, "mpi all_gather", fmt::format("{} ranks", size_)});
    int len = static_cast<int>(mine.size());
    std::vector<int> lens(size_), offs(size_);
    mpi_check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      offs[r] = total;
      total += lens[r];
    }
    std::string all(std::max(total, 1), '\0');
    mpi_check(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, comm_),
              "MPI_Allgatherv");
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(offs[r], lens[r]));
    return out;
  }

  std::unique_ptr<ControlPlane> split(int color, int key) override {
    MPI_Comm child = MPI_COMM_NULL;
    mpi_check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &child), "MPI_Comm_split");
    if (child == MPI_COMM_NULL) return nullptr;
    return std::make_unique<MpiPlane>(child);
  }

 private:
  static bool finalized() {
    int f = 0;
    MPI_Finalized(&f);
    return f != 0;
  }
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  uint64_t round_ = 0;
};

}  // namespace

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RuntimeFailure(fmt::format("{} failed: {}", what, std::string(text, len)));
}

void mpi_start() {
  if (g_started) return;
  int provided = 0;
  mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  g_started = true;
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, len);
  v = v.substr(0, v.find_first_of(",\n"));
  set_system_info("mpi", v);
  if (provided < MPI_THREAD_MULTIPLE)
    throw UsageError(
        fmt::format("the MPI library ({}) does not provide MPI_THREAD_MULTIPLE, which the mpi "
                    "backend needs; use an MPI built with thread support (Debian's OpenMPI has it)",
                    v));
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Watchdog::instance().add_abort_hook([](int code) { MPI_Abort(MPI_COMM_WORLD, code); });
}

void mpi_finish() {
  if (!g_started) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int mpi_world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int mpi_world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

std::unique_ptr<ControlPlane> make_mpi_world_control_plane() {
  MPI_Comm dup = MPI_COMM_NULL;
  mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup");
  return std::make_unique<MpiPlane>(dup);
}

}  // namespace dtbench
