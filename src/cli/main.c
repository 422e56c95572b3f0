/* cli/main.c: placeholder entry point, replaced by the real subcommands. */
#include "core/core.h"
int main(void)
{
    return 0;
}
