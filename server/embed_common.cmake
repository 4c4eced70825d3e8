# Helpers shared by the embed_*.cmake scripts (included by them; run in -P script mode).
#
#   eir_embed_bytes(<file> <out-var>)   <out-var> gets the file's bytes as a C initializer body:
#                                       "0xNN," items, 16 a line, each line but the first
#                                       indented by 4 spaces; "" for an empty file. A file that
#                                       cannot be read stops CMake (FATAL_ERROR of file(READ)).
#   eir_embed_write_if_changed(<out> <content>)
#                                       writes <content> to <out> only when it differs from what
#                                       <out> holds, so an unchanged input does not rebuild its
#                                       users. A write failure stops CMake.
function(eir_embed_bytes file out_var)
  file(READ "${file}" hex HEX)
  # 16 bytes per line (CMake regexes have no {n}: build the 32-hex-digit pattern by hand)
  string(REPEAT "[0-9a-f]" 32 line_pattern)
  string(REGEX REPLACE "(${line_pattern})" "\\1\n    " hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${out_var} "${bytes}" PARENT_SCOPE)
endfunction()

function(eir_embed_write_if_changed out content)
  if(EXISTS "${out}")
    file(READ "${out}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${out}" "${content}")
endfunction()
