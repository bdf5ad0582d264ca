// One curl easy handle per message: reports are few, and a fresh connection per message keeps
// one recipient's failure from touching the next.
#include "reports/smtp.hpp"

#include <curl/curl.h>

#include <cstring>
#include <fstream>
#include <mutex>

namespace mp::reports {
namespace {

std::once_flag gCurlInit;

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t readBody(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t room = size * n;
  const std::size_t left = up->data->size() - up->offset;
  const std::size_t chunk = std::min(room, left);
  std::memcpy(buffer, up->data->data() + up->offset, chunk);
  up->offset += chunk;
  return chunk;
}

// Everything curl says on the wire, kept to name the server's last answer in an error.
int onDebug(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN) {
    auto* last = static_cast<std::string*>(user);
    last->assign(data, size);
    while (!last->empty() && (last->back() == '\r' || last->back() == '\n')) last->pop_back();
  }
  return 0;
}

// The server part of the URL, without user information, for messages.
std::string serverOf(const std::string& url) {
  const auto scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  const auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  return (scheme == std::string::npos ? "" : url.substr(0, scheme + 3)) + rest;
}

}  // namespace

SmtpSender::SmtpSender(const config::EmailConfig& config) : config_(config) {
  if (config_.url.empty()) {
    throw ConfigError("email.url is empty: set it to the SMTP server (smtp://host:587)");
  }
  if (!config_.passwordFile.empty()) {
    std::ifstream in(config_.passwordFile);
    if (!in) throw ConfigError("cannot read email.password_file \"" + config_.passwordFile + "\"");
    std::getline(in, password_);
    if (!password_.empty() && password_.back() == '\r') password_.pop_back();
  }
  std::call_once(gCurlInit, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void SmtpSender::send(const std::string& from, const std::string& recipient,
                      const std::string& message) const {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) throw EmailError("cannot start libcurl");
  char error[CURL_ERROR_SIZE] = {0};
  std::string lastReply;
  Upload upload{&message};
  const std::string mailFrom = "<" + from + ">";
  const std::string rcpt = "<" + recipient + ">";
  curl_slist* rcpts = curl_slist_append(nullptr, rcpt.c_str());
  const long timeoutMs = static_cast<long>(config_.timeout.count()) * 1000;

  curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mailFrom.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, readBody);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeoutMs, 10000L));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, onDebug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &lastReply);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);  // feeds onDebug; nothing is printed
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.caFile.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.caFile.c_str());
  if (config_.url.rfind("smtp://", 0) == 0) {
    const long tls = config_.starttls == "always"         ? CURLUSESSL_ALL
                     : config_.starttls == "when-offered" ? CURLUSESSL_TRY
                                                          : CURLUSESSL_NONE;
    curl_easy_setopt(curl, CURLOPT_USE_SSL, tls);
  }
  if (!config_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, password_.c_str());
  }

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpts);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::string what = error[0] != '\0' ? error : curl_easy_strerror(rc);
    if (!lastReply.empty() && lastReply[0] >= '4' && lastReply[0] <= '5') {
      what += " (server: " + lastReply + ")";
    }
    throw EmailError("sending to " + recipient + " through " + serverOf(config_.url) +
                     " failed: " + what);
  }
}

}  // namespace mp::reports
