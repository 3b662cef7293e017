build/obj/router/routes.o: src/router/routes.c src/router/routes.h \
 src/common/util.h
src/router/routes.h:
src/common/util.h:
