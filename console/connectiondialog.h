// SPDX-License-Identifier: Apache-2.0
// Server → Connect…: the server URL (only an http(s) URL with a host is accepted: the dialog stays
// open and says why otherwise) and the admin token, optionally remembered.
//
// Where the console's connection comes from, first wins: --server, SLUICE_SERVER_URL, the saved URL;
// SLUICE_ADMIN_TOKEN, the saved token. The saved token is kept only when "Remember" is ticked, in
// the console's settings file (QSettings: ~/.config/Sluice/sluice-console.conf), in plain text but
// readable by its owner only (mode 0600, set after every save, like ~/.pgpass); a token from the
// environment is never written anywhere.
#pragma once

#include <QDialog>
#include <QUrl>

class QCheckBox;
class QLabel;
class QLineEdit;
class QSettings;

namespace sluice {

struct SavedConnection
{
    QString server;      // as saved (may be empty)
    QByteArray token;    // empty when none is remembered
};
SavedConnection loadConnection(QSettings &settings);
// Saves the URL, and the token when `rememberToken` (else removes a saved one); the file becomes 0600.
void saveConnection(QSettings &settings, const QUrl &server, const QByteArray &token, bool rememberToken);

class ConnectionDialog : public QDialog
{
    Q_OBJECT
public:
    ConnectionDialog(const QUrl &server, const QByteArray &token, bool tokenRemembered, QWidget *parent = nullptr);

    QUrl server() const { return m_accepted; }
    QByteArray token() const;
    bool rememberToken() const;
    QString message() const;

    void accept() override; // validates first: a bad URL keeps the dialog open with the reason

private:
    QLineEdit *m_url;
    QLineEdit *m_token;
    QCheckBox *m_remember;
    QLabel *m_message;
    QUrl m_accepted;
};

} // namespace sluice
