{
  # The N-API addon: tokenizer, scheduling, worker threads and the loader of the torch core.
  # It does not link libtorch (see CMakeLists.txt for the core that does).
  "targets": [
    {
      "target_name": "tce",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/addon').filter(f => f.endsWith('.cc')).map(f => 'native/addon/' + f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/tokenizer', { recursive: true }).filter(f => f.endsWith('.cc')).map(f => 'native/tokenizer/' + f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/engine').filter(f => f.endsWith('.cc')).map(f => 'native/engine/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A worker being terminated refuses JavaScript while its loop still completes async work:
        # node-addon-api then drops the error it cannot throw instead of aborting the process.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "UTF8PROC_STATIC"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "libraries": [
        # utf8proc is linked statically so that the addon needs nothing extra at run time.
        "-l:libutf8proc.a",
        # Oniguruma (Split/Replace regexes) is not linked: Debian ships only its shared library, so
        # native/tokenizer/onig_library.cc dlopen()s it at the first regex (headers: libonig-dev).
        "-ldl",
        "-pthread"
      ],
      # nodelete: Node unloads an addon when the worker that loaded it ends, while model threads
      # may still run its code; the addon stays mapped until the process ends.
      "ldflags": ["-pthread", "-Wl,-z,nodelete"]
    }
  ]
}
