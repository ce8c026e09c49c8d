{
  "targets": [
    {
      "target_name": "ublk_native",
      "sources": [
        "native/addon.cc",
        "native/ring.cc",
        "native/event-ring.cc",
        "native/io-ring.cc",
        "native/ctrl.cc",
        "native/queue.cc",
        "native/queue-direct.cc",
        "native/queue-packed.cc",
        "native/packed-read.cc",
        "native/packed-read-probe.cc",
        "native/packed-tables.cc",
        "native/write-apply.cc",
        "native/fast-write.cc",
        "native/fiemap.cc",
        "native/file-lock.cc",
        "native/direct-path.cc",
        "native/codec-batch.cc",
        "native/notify.cc",
        "native/extent-map.cc",
        "native/open-guard.cc"
      ],
      "libraries": ["-llz4", "-lxxhash"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
