/* main.c — the stand-alone `cloudrun-emulator` program (the same as `cloudrun emulator`). */
#include "emulator.h"

int main(int argc, char **argv)
{
    return cr_emulator_main(argc, argv);
}
