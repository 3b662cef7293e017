build/obj/labdns/dnsmsg.o: src/labdns/dnsmsg.c src/labdns/dnsmsg.h \
 src/labdns/hosts.h
src/labdns/dnsmsg.h:
src/labdns/hosts.h:
