{
  "targets": [
    {
      "target_name": "bpf2ts",
      "sources": [
        "src/addon.cc",
        "src/object.cc",
        "src/maps.cc",
        "src/links.cc",
        "src/progs.cc",
        "src/features.cc",
        "src/ringbuf.cc",
        "src/perfbuf.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wno-missing-field-initializers",
                    "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)", "-lelf", "-lz"]
    }
  ]
}
