build/obj/router/accesslog.o: src/router/accesslog.c \
 src/router/accesslog.h src/common/util.h src/common/log.h
src/router/accesslog.h:
src/common/util.h:
src/common/log.h:
