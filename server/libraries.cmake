# eirnnd's libraries, defined once for the project's build (server/CMakeLists.txt) and for the
# instrumented build of the fuzz harnesses (fuzz/CMakeLists.txt), which include this file:
#
#   eir_embed_sources(<out-var>)  the build steps that embed schema/migrations/*.sql
#                                 (embed_migrations.cmake), schema/openapi.json
#                                 (embed_openapi.cmake), the web page's files under web/
#                                 (embed_web.cmake) and schema/migrations_pg/*.sql
#                                 (embed_migrations.cmake again) as C sources in the current
#                                 binary directory; <out-var> gets the four generated files
#   eir_add_server_libraries(STORE <target> DAEMON <target> VERSION <text>
#                            LINK <engine and schema libraries...> [OPTIONS <compile options...>])
#                                 the store (store.h and its SQLite and PostgreSQL backends,
#                                 with the migrations)
#                                 and the daemon library (everything of server/ but main.c, with
#                                 the OpenAPI document); eirnnd is main.c + the daemon library
#
# Sources are listed here, once: a new server/*.c file is added to one of the lists below.
# The PostgreSQL backend's files are globbed (server/store_pg_*.c).
# SQLite, libpq and libmicrohttpd (0.9.75 API only) are found here, in the including directory's
# scope.
if(NOT TARGET PkgConfig::SQLITE3)
  pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
endif()
if(NOT TARGET PkgConfig::LIBPQ)
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
endif()
if(NOT TARGET PkgConfig::MHD)
  pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
endif()
set(EIR_SERVER_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(EIR_SERVER_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(EIR_STORE_SOURCES
  store.c store_common.c store_sqlite_lock.c store_sqlite_conn.c store_sqlite_rows.c store_sqlite_models.c
  store_sqlite_runs.c store_sqlite_finish.c store_sqlite_read.c store_sqlite_maint.c
  store_sqlite_open.c store_sqlite_watch.c store_sqlite_labels.c
  store_sqlite_sweeps.c store_sqlite_train.c)
file(GLOB EIR_STORE_PG_SOURCES CONFIGURE_DEPENDS RELATIVE ${EIR_SERVER_DIR}
     ${EIR_SERVER_DIR}/store_pg_*.c)
list(SORT EIR_STORE_PG_SOURCES)
list(APPEND EIR_STORE_SOURCES ${EIR_STORE_PG_SOURCES})
set(EIR_DAEMON_SOURCES
  daemon.c config.c util.c log.c metrics.c
  http_daemon.c http_guard.c http_reply.c http_request.c http_route.c
  problem.c h_common.c h_meta.c h_models.c h_runs.c h_results.c results_stream.c
  array_stream.c h_matrices.c exec_job.c exec_analysis.c h_analyses.c h_jobs.c
  pool.c exec.c model_resolve.c waiters.c waiters_watch.c modcache.c build_guard.c run_budget.c
  analysis_check.c analysis_refs.c analysis_exec.c analysis_spectrum.c analysis_fixed.c
  analysis_lyap.c analysis_activity.c h_sweeps.c sweep_check.c sweep_table.c labels.c run_refs.c offload.c
  h_web.c changes.c lease.c h_trainings.c exec_training.c training_check.c)
list(TRANSFORM EIR_STORE_SOURCES PREPEND ${EIR_SERVER_DIR}/)
list(TRANSFORM EIR_DAEMON_SOURCES PREPEND ${EIR_SERVER_DIR}/)

function(eir_embed_sources out_var)
  set(migrations_dir ${EIR_SERVER_ROOT}/schema/migrations)
  set(migrations_c ${CMAKE_CURRENT_BINARY_DIR}/store_migrations.c)
  file(GLOB migration_files CONFIGURE_DEPENDS ${migrations_dir}/*.sql)
  add_custom_command(
    OUTPUT ${migrations_c}
    COMMAND ${CMAKE_COMMAND} -DDIR=${migrations_dir} -DOUT=${migrations_c}
            -DSYMBOL=store_migrations -P ${EIR_SERVER_DIR}/embed_migrations.cmake
    DEPENDS ${migration_files} ${EIR_SERVER_DIR}/embed_migrations.cmake
            ${EIR_SERVER_DIR}/embed_common.cmake
    COMMENT "Embedding SQL migrations"
    VERBATIM)
  # If schema/openapi.json does not exist yet, a placeholder is generated in the build
  # directory (never in the source tree).
  set(openapi_src ${EIR_SERVER_ROOT}/schema/openapi.json)
  set(openapi_c ${CMAKE_CURRENT_BINARY_DIR}/openapi_embed.c)
  file(GLOB openapi_dep CONFIGURE_DEPENDS ${openapi_src})
  add_custom_command(
    OUTPUT ${openapi_c}
    COMMAND ${CMAKE_COMMAND} -DSRC=${openapi_src} -DOUT=${openapi_c}
            -DPLACEHOLDER=${CMAKE_CURRENT_BINARY_DIR}/openapi.placeholder.json
            -P ${EIR_SERVER_DIR}/embed_openapi.cmake
    DEPENDS ${openapi_dep} ${EIR_SERVER_DIR}/embed_openapi.cmake
            ${EIR_SERVER_DIR}/embed_common.cmake
    COMMENT "Embedding the OpenAPI document"
    VERBATIM)
  # The web page: every file under web/. The glob is checked again at each build, and a file
  # added or removed re-runs the configuration, which rewrites web.files (only when the list
  # changed) and so re-runs the embedding; a file changed re-runs it through DEPENDS.
  set(web_dir ${EIR_SERVER_ROOT}/web)
  set(web_c ${CMAKE_CURRENT_BINARY_DIR}/web_embed.c)
  file(GLOB_RECURSE web_files CONFIGURE_DEPENDS ${web_dir}/*)
  string(REPLACE ";" "\n" web_list "${web_files}")
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/web.files CONTENT "${web_list}\n")
  list(APPEND web_files ${CMAKE_CURRENT_BINARY_DIR}/web.files)
  add_custom_command(
    OUTPUT ${web_c}
    COMMAND ${CMAKE_COMMAND} -DDIR=${web_dir} -DOUT=${web_c}
            -P ${EIR_SERVER_DIR}/embed_web.cmake
    DEPENDS ${web_files} ${EIR_SERVER_DIR}/embed_web.cmake
            ${EIR_SERVER_DIR}/embed_common.cmake
    COMMENT "Embedding the web page (web/)"
    VERBATIM)
  # The PostgreSQL backend's migrations (store_pg_open.c applies them).
  set(pg_migrations_dir ${EIR_SERVER_ROOT}/schema/migrations_pg)
  set(pg_migrations_c ${CMAKE_CURRENT_BINARY_DIR}/store_pg_migrations.c)
  file(GLOB pg_migration_files CONFIGURE_DEPENDS ${pg_migrations_dir}/*.sql)
  add_custom_command(
    OUTPUT ${pg_migrations_c}
    COMMAND ${CMAKE_COMMAND} -DDIR=${pg_migrations_dir} -DOUT=${pg_migrations_c}
            -DSYMBOL=store_pg_migrations -P ${EIR_SERVER_DIR}/embed_migrations.cmake
    DEPENDS ${pg_migration_files} ${EIR_SERVER_DIR}/embed_migrations.cmake
            ${EIR_SERVER_DIR}/embed_common.cmake
    COMMENT "Embedding PostgreSQL migrations"
    VERBATIM)
  set(${out_var} ${migrations_c} ${openapi_c} ${web_c} ${pg_migrations_c} PARENT_SCOPE)
endfunction()

function(eir_add_server_libraries)
  cmake_parse_arguments(A "" "STORE;DAEMON;VERSION" "LINK;OPTIONS" ${ARGN})
  if(NOT A_STORE OR NOT A_DAEMON OR NOT A_VERSION OR NOT A_LINK)
    message(FATAL_ERROR "eir_add_server_libraries: STORE, DAEMON, VERSION and LINK are needed")
  endif()
  eir_embed_sources(embedded)
  list(GET embedded 0 migrations_c)
  list(GET embedded 1 openapi_c)
  list(GET embedded 2 web_c)
  list(GET embedded 3 pg_migrations_c)

  add_library(${A_STORE} STATIC ${EIR_STORE_SOURCES} ${migrations_c} ${pg_migrations_c})
  target_include_directories(${A_STORE} PUBLIC ${EIR_SERVER_DIR})
  # The engine provides SHA-256 (eir_sha256.h) for result checksums; eir_common the clock
  # readings and the random ids.
  target_link_libraries(${A_STORE} PUBLIC PkgConfig::SQLITE3 PkgConfig::LIBPQ ${A_LINK}
                                          Threads::Threads)
  target_compile_options(${A_STORE} PRIVATE ${A_OPTIONS})
  set_target_properties(${A_STORE} PROPERTIES POSITION_INDEPENDENT_CODE ON)

  add_library(${A_DAEMON} STATIC ${EIR_DAEMON_SOURCES} ${openapi_c} ${web_c})
  target_include_directories(${A_DAEMON} PUBLIC ${EIR_SERVER_DIR})
  target_link_libraries(${A_DAEMON} PUBLIC ${A_STORE} ${A_LINK} PkgConfig::MHD
                                           PkgConfig::JANSSON Threads::Threads m)
  target_compile_definitions(${A_DAEMON} PUBLIC EIRNN_VERSION="${A_VERSION}")
  target_compile_options(${A_DAEMON} PRIVATE ${A_OPTIONS})
endfunction()
