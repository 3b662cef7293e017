build/obj/common/http1.o: src/common/http1.c src/common/http1.h \
 src/common/util.h
src/common/http1.h:
src/common/util.h:
