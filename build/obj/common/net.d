build/obj/common/net.o: src/common/net.c src/common/net.h \
 src/common/util.h
src/common/net.h:
src/common/util.h:
