# The API suite runs on the backend FERRITE_BACKEND names (see
# test/support/test_conn.exs): embedded (default), redis or listener.
Code.require_file("support/test_conn.exs", __DIR__)
ExUnit.start(Ferrite.TestConn.setup_run())
