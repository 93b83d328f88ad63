# The frozen modules of the MicroPython build that carries uhttpd: those
# whose sources Debian's +ds tarball has (micropython-lib is not in it).
include("$(MPY_DIR)/extmod/asyncio")
