/* daemon/http.h: the --http address and the Host rule (the server itself: test_http.sh). */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "http.h"
#include "test.h"

static void test_http_addr__addresses_parse_with_their_loopbackness(void)
{
	static const struct { const char *text; int family, port; bool loopback; } ok[] = {
		{ "127.0.0.1:7480", AF_INET, 7480, true },
		{ "127.9.8.7:0", AF_INET, 0, true },
		{ "localhost:65535", AF_INET, 65535, true },
		{ "0.0.0.0:80", AF_INET, 80, false },
		{ "10.1.2.3:7480", AF_INET, 7480, false },
		{ "[::1]:7480", AF_INET6, 7480, true },
		{ "[::]:7480", AF_INET6, 7480, false },
		{ "[fe80::1]:1", AF_INET6, 1, false },
		{ "7480", AF_INET, 7480, true },
		{ "0", AF_INET, 0, true },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct http_addr a;
		struct err e = { 0 };
		CHECK_MSG(http_parse_addr(ok[i].text, &a, &e) == 0, "%s: %s", ok[i].text, e.msg);
		CHECK_MSG(a.ss.ss_family == ok[i].family && a.loopback == ok[i].loopback, "%s",
			ok[i].text);
		int port = a.ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&a.ss)->sin_port) :
			ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port);
		CHECK_MSG(port == ok[i].port, "%s: port %d", ok[i].text, port);
	}
}

static void test_http_addr__bad_addresses_are_refused_naming_the_option(void)
{
	static const char *const bad[] = { "", "127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:x",
		"127.0.0.1:65536", "127.0.0.1:-1", "example.org:80", "::1:80", "[::1]", "[127.0.0.1]:80",
		"1.2.3:80", "127.0.0.1:80 ", "65536", "123456", "-1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct http_addr a;
		struct err e = { 0 };
		CHECK_MSG(http_parse_addr(bad[i], &a, &e) < 0, "'%s' was accepted", bad[i]);
		CHECK_MSG(strstr(e.msg, "option '--http'") != NULL, "'%s': %s", bad[i], e.msg);
	}
}

static void test_http_addr__only_loopback_hosts_pass(void)
{
	static const char *const yes[] = { "localhost", "LOCALHOST:7480", "127.0.0.1",
		"127.0.0.1:7480", "127.1.2.3:1", "[::1]", "[::1]:7480", NULL };
	static const char *const no[] = { "evil.example", "evil.example:7480", "10.0.0.1:80",
		"localhost.evil.example", "127.0.0.1.evil.example", "[::2]:80", "[::1]x", "[::1",
		"", "0x7f000001", };
	CHECK(http_host_loopback(NULL));
	for (size_t i = 0; yes[i]; i++)
		CHECK_MSG(http_host_loopback(yes[i]), "'%s' refused", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK_MSG(!http_host_loopback(no[i]), "'%s' accepted", no[i]);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_http_addr__addresses_parse_with_their_loopbackness),
		TEST(test_http_addr__bad_addresses_are_refused_naming_the_option),
		TEST(test_http_addr__only_loopback_hosts_pass),
		{ 0 },
	});
}
