build/obj/labdns/hosts.o: src/labdns/hosts.c src/labdns/hosts.h \
 src/common/util.h
src/labdns/hosts.h:
src/common/util.h:
