// mirage_tap: a Linux TAP device for Node.js, moving Ethernet frames in batches.
//
// Why an addon: Node has no API for ioctl(TUNSETIFF), and the alternatives measured on this kind
// of machine (a worker thread blocked in read(), fs.read on the thread pool, FFI) are 1.5-10x
// slower and cannot be stopped cleanly. Here the TAP fd is non-blocking and watched by uv_poll on
// Node's own event loop, so no thread is involved and close() is immediate.
//
// Memory shared with JavaScript (all allocated by JS, kept alive by references held here):
//   rx:        rxSlots slots of slotSize bytes; frame i of a batch is at i * slotSize
//   rxLengths: Uint32Array(rxSlots), the length of frame i of the current batch
//   tx:        txSlots slots of slotSize bytes, filled by JS
//   txLengths: Uint32Array(txSlots), the length of the frame in each tx slot
// One wake-up (the fd became readable) reads up to rxSlots frames and makes ONE call into JS,
// onFrames(count); the bytes are valid until that call returns. JS writes by copying frames into
// tx slots and calling flush(start, count) once per batch: one write() per frame (a TAP takes one
// frame per syscall; writev does not batch) but one crossing into the addon per batch.
//
// Errors are thrown as Error objects with `code` (the errno name, e.g. "EBUSY"), `errno` and
// `syscall`; the TypeScript side turns them into messages that say what to do.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + syscall + " failed: " + strerror(err));
  const char* name = uv_err_name(-err);
  e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Interface ioctls (SIOCGIFMTU, SIOCGIFFLAGS, SIOCSIFFLAGS) go through any socket of the netns.
int InterfaceIoctl(unsigned long request, struct ifreq* ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int r = ioctl(s, request, ifr);
  int e = r < 0 ? errno : 0;
  close(s);
  return e;
}

class Tap : public Napi::ObjectWrap<Tap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Tap",
                       {
                           InstanceMethod<&Tap::Flush>("flush"),
                           InstanceMethod<&Tap::Stats>("stats"),
                           InstanceMethod<&Tap::Close>("close"),
                           InstanceMethod<&Tap::SetRef>("setRef"),
                       });
  }

  // new Tap({ name, device, bringUp, rx, rxLengths, tx, txLengths, slotSize, onFrames, onWritable })
  explicit Tap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "Tap: expected an options object").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string name = o.Get("name").As<Napi::String>().Utf8Value();
    std::string device = o.Get("device").As<Napi::String>().Utf8Value();
    bool bringUp = o.Get("bringUp").ToBoolean().Value();
    Napi::ArrayBuffer rx = o.Get("rx").As<Napi::ArrayBuffer>();
    Napi::Uint32Array rxLengths = o.Get("rxLengths").As<Napi::Uint32Array>();
    Napi::ArrayBuffer tx = o.Get("tx").As<Napi::ArrayBuffer>();
    Napi::Uint32Array txLengths = o.Get("txLengths").As<Napi::Uint32Array>();
    slotSize_ = o.Get("slotSize").As<Napi::Number>().Uint32Value();
    if (env.IsExceptionPending()) return;
    if (name.empty() || name.size() >= IFNAMSIZ) {
      Napi::TypeError::New(env, "Tap: the interface name must have 1 to 15 characters").ThrowAsJavaScriptException();
      return;
    }
    if (slotSize_ == 0 || rx.ByteLength() / slotSize_ < rxLengths.ElementLength() ||
        tx.ByteLength() / slotSize_ < txLengths.ElementLength()) {
      Napi::RangeError::New(env, "Tap: the rx/tx buffers are smaller than their slots").ThrowAsJavaScriptException();
      return;
    }
    rx_ = static_cast<uint8_t*>(rx.Data());
    rxLengths_ = rxLengths.Data();
    rxSlots_ = static_cast<uint32_t>(rxLengths.ElementLength());
    tx_ = static_cast<uint8_t*>(tx.Data());
    txLengths_ = txLengths.Data();
    txSlots_ = static_cast<uint32_t>(txLengths.ElementLength());
    refs_ = Napi::Persistent(Napi::Object::New(env));
    refs_.Set("rx", rx);
    refs_.Set("rxLengths", rxLengths);
    refs_.Set("tx", tx);
    refs_.Set("txLengths", txLengths);
    onFrames_ = Napi::Persistent(o.Get("onFrames").As<Napi::Function>());
    onWritable_ = Napi::Persistent(o.Get("onWritable").As<Napi::Function>());
    if (env.IsExceptionPending()) return;

    fd_ = open(device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      ErrnoError(env, errno, "open", "cannot open " + device).ThrowAsJavaScriptException();
      return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    // IFF_NO_PI: frames come and go without the 4-byte packet-information prefix.
    // No IFF_VNET_HDR: the kernel segments and checksums before handing frames over.
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd_, TUNSETIFF, &ifr) < 0) {
      int e = errno;
      close(fd_);
      fd_ = -1;
      ErrnoError(env, e, "ioctl(TUNSETIFF)", "cannot attach to TAP " + name).ThrowAsJavaScriptException();
      return;
    }
    name_ = ifr.ifr_name;

    struct ifreq q;
    memset(&q, 0, sizeof q);
    strncpy(q.ifr_name, name_.c_str(), IFNAMSIZ - 1);
    kernelMtu_ = InterfaceIoctl(SIOCGIFMTU, &q) == 0 ? q.ifr_mtu : 0;
    memset(&q, 0, sizeof q);
    strncpy(q.ifr_name, name_.c_str(), IFNAMSIZ - 1);
    if (InterfaceIoctl(SIOCGIFFLAGS, &q) == 0) {
      up_ = (q.ifr_flags & IFF_UP) != 0;
      if (!up_ && bringUp) {
        q.ifr_flags |= IFF_UP;
        // Not fatal: without CAP_NET_ADMIN a pre-created (persistent) TAP can still be used once
        // its administrator brings it up; until then writes fail and are counted as drops.
        if (InterfaceIoctl(SIOCSIFFLAGS, &q) == 0) up_ = true;
      }
    }

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      close(fd_);
      fd_ = -1;
      Napi::Error::New(env, "Tap: no libuv event loop").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, fd_);
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      close(fd_);
      fd_ = -1;
      ErrnoError(env, -r, "uv_poll_init", "cannot watch TAP " + name_).ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    events_ = UV_READABLE;
    uv_poll_start(poll_, events_, OnPoll);
    async_ = new Napi::AsyncContext(env, "mirage-tap");
    // The poll callback holds a raw pointer to this object: keep the JS wrapper alive while open.
    Ref();

    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("name", Napi::String::New(env, name_));
    self.Set("kernelMtu", Napi::Number::New(env, kernelMtu_));
    self.Set("up", Napi::Boolean::New(env, up_));
  }

  ~Tap() override {
    // Only reached after close() (the wrapper is referenced while open) or at environment teardown,
    // when the loop is going away: just release the fd.
    if (fd_ >= 0) close(fd_);
    delete async_;
  }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Tap* self = static_cast<Tap*>(handle->data);
    if (self == nullptr || self->fd_ < 0) return;
    if (status < 0) {
      // The fd is in error (e.g. the device was deleted): reading reports it; count and go on.
      self->pollErrors_++;
      events = UV_READABLE;
    }
    if (events & UV_WRITABLE) {
      self->events_ &= ~UV_WRITABLE;
      uv_poll_start(self->poll_, self->events_, OnPoll);
      self->Call(self->onWritable_, 0);
      if (self->fd_ < 0) return;  // closed by the callback
    }
    if (events & UV_READABLE) self->ReadBatch();
  }

  void ReadBatch() {
    uint32_t count = 0;
    while (count < rxSlots_) {
      ssize_t n = read(fd_, rx_ + static_cast<size_t>(count) * slotSize_, slotSize_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) rxErrors_++;
        break;
      }
      if (n == 0) break;
      if (static_cast<size_t>(n) > slotSize_) {
        // The kernel truncated a frame longer than a slot (its MTU was raised after we opened it)
        // and reports the full length: the frame is lost; count it.
        rxErrors_++;
        continue;
      }
      rxLengths_[count++] = static_cast<uint32_t>(n);
      rxFrames_++;
      rxBytes_ += static_cast<uint64_t>(n);
    }
    // If all slots were filled more frames may be waiting: uv_poll is level-triggered, so the next
    // loop iteration wakes us again, after the loop has served its other handles.
    if (count > 0) Call(onFrames_, count);
  }

  void Call(Napi::FunctionReference& fn, uint32_t arg) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    fn.MakeCallback(Value(), {Napi::Number::New(env, arg)}, *async_);
    if (env.IsExceptionPending()) {
      // Like any other event callback in Node: a throw becomes an uncaught exception.
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  // flush(start, count) -> the number of frames consumed (sent, or dropped on a hard error).
  // Fewer than count when the device would block: the rest stay in their slots and onWritable()
  // is called when the fd becomes writable again.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t start = info[0].As<Napi::Number>().Uint32Value();
    uint32_t count = info[1].As<Napi::Number>().Uint32Value();
    if (fd_ < 0) return Napi::Number::New(env, 0);
    if (start > txSlots_ || count > txSlots_ - start) {
      Napi::RangeError::New(env, "flush: slots out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t i = 0;
    while (i < count) {
      uint32_t slot = start + i;
      uint32_t len = txLengths_[slot];
      if (len > slotSize_) len = slotSize_;
      ssize_t n = write(fd_, tx_ + static_cast<size_t>(slot) * slotSize_, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (!(events_ & UV_WRITABLE)) {
            events_ |= UV_WRITABLE;
            uv_poll_start(poll_, events_, OnPoll);
          }
          break;
        }
        // EIO (interface down), EINVAL (malformed frame): the frame is lost, the rest may go.
        txErrors_++;
      } else {
        txFrames_++;
        txBytes_ += static_cast<uint64_t>(len);
      }
      i++;
    }
    return Napi::Number::New(env, i);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    s.Set("rxFrames", Napi::Number::New(env, static_cast<double>(rxFrames_)));
    s.Set("rxBytes", Napi::Number::New(env, static_cast<double>(rxBytes_)));
    s.Set("txFrames", Napi::Number::New(env, static_cast<double>(txFrames_)));
    s.Set("txBytes", Napi::Number::New(env, static_cast<double>(txBytes_)));
    s.Set("rxErrors", Napi::Number::New(env, static_cast<double>(rxErrors_)));
    s.Set("txErrors", Napi::Number::New(env, static_cast<double>(txErrors_)));
    s.Set("pollErrors", Napi::Number::New(env, static_cast<double>(pollErrors_)));
    return s;
  }

  // setRef(bool): whether an open TAP keeps the process alive (as with a socket's ref/unref).
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr && fd_ >= 0) {
      if (info[0].ToBoolean().Value()) {
        uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      }
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      close(fd_);
      fd_ = -1;
      Unref();
    }
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  int events_ = 0;
  std::string name_;
  int kernelMtu_ = 0;
  bool up_ = false;
  uint32_t slotSize_ = 0;
  uint8_t* rx_ = nullptr;
  uint32_t* rxLengths_ = nullptr;
  uint32_t rxSlots_ = 0;
  uint8_t* tx_ = nullptr;
  uint32_t* txLengths_ = nullptr;
  uint32_t txSlots_ = 0;
  // Holds the shared buffers so that they outlive any JS reference while this object uses them.
  Napi::ObjectReference refs_;
  Napi::FunctionReference onFrames_;
  Napi::FunctionReference onWritable_;
  Napi::AsyncContext* async_ = nullptr;
  uint64_t rxFrames_ = 0, rxBytes_ = 0, txFrames_ = 0, txBytes_ = 0;
  uint64_t rxErrors_ = 0, txErrors_ = 0, pollErrors_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Tap", Tap::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(mirage_tap, Init)
