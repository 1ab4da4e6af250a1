#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

// SystemC wants sc_main to exist when linked; tests never call it, they elaborate in forked children.
int sc_main(int, char**) { return 0; }

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
