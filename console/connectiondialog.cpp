// SPDX-License-Identifier: Apache-2.0
#include "connectiondialog.h"

#include "pages/message.h"
#include "apiclient.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QVBoxLayout>
#include <sys/stat.h>

namespace sluice {

namespace {
const QString kServerKey = QStringLiteral("server");
const QString kTokenKey = QStringLiteral("adminToken");
} // namespace

SavedConnection loadConnection(QSettings &settings)
{
    return {settings.value(kServerKey).toString(), settings.value(kTokenKey).toByteArray()};
}

void saveConnection(QSettings &settings, const QUrl &server, const QByteArray &token, bool rememberToken)
{
    // The token is a secret: the file is its owner's alone, before the token is written (an
    // existing file keeps its mode when Qt rewrites it; a new one is made under this umask).
    const auto ownerOnly = QFile::ReadOwner | QFile::WriteOwner;
    if (QFile::exists(settings.fileName()))
        QFile::setPermissions(settings.fileName(), ownerOnly);
    settings.setValue(kServerKey, server.toString());
    if (rememberToken && !token.isEmpty())
        settings.setValue(kTokenKey, token);
    else
        settings.remove(kTokenKey);
    const mode_t previous = ::umask(077);
    settings.sync();
    ::umask(previous);
    QFile::setPermissions(settings.fileName(), ownerOnly);
}

ConnectionDialog::ConnectionDialog(const QUrl &server, const QByteArray &token, bool tokenRemembered, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(QStringLiteral("Connect to a Sluice server"));
    m_url = new QLineEdit(server.toString());
    m_url->setObjectName(QStringLiteral("url"));
    setPlaceholder(m_url, QStringLiteral("http://127.0.0.1:8000"));
    m_token = new QLineEdit(QString::fromUtf8(token));
    m_token->setObjectName(QStringLiteral("token"));
    m_token->setEchoMode(QLineEdit::Password);
    setPlaceholder(m_token, QStringLiteral("the server's --admin-token (scripts/run prints it)"));
    auto *show = new QCheckBox(QStringLiteral("Show"));
    connect(show, &QCheckBox::toggled, this,
            [this](bool on) { m_token->setEchoMode(on ? QLineEdit::Normal : QLineEdit::Password); });
    m_remember = new QCheckBox(QStringLiteral("Remember the token on this computer (a file only you can read)"));
    m_remember->setObjectName(QStringLiteral("remember"));
    m_remember->setChecked(tokenRemembered);
    m_message = new QLabel;
    m_message->setObjectName(QStringLiteral("message"));
    keepWithinWidth(m_message);
    m_message->setStyleSheet(QStringLiteral("color: #b3261e"));
    auto *form = new QFormLayout;
    form->addRow(QStringLiteral("Server URL"), m_url);
    auto *tokenRow = new QHBoxLayout;
    tokenRow->addWidget(m_token, 1);
    tokenRow->addWidget(show);
    form->addRow(QStringLiteral("Admin token"), tokenRow);
    form->addRow(QString(), m_remember);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &ConnectionDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &ConnectionDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(new QLabel(QStringLiteral("Without a token the console checks and watches, but cannot change policies, keys "
                                                "or usage.")));
    layout->addWidget(m_message);
    layout->addWidget(buttons);
}

QByteArray ConnectionDialog::token() const { return m_token->text().trimmed().toUtf8(); }

bool ConnectionDialog::rememberToken() const { return m_remember->isChecked(); }

QString ConnectionDialog::message() const { return m_message->text(); }

void ConnectionDialog::accept()
{
    QString error;
    const auto url = ApiClient::serverUrl(m_url->text().trimmed(), &error);
    if (!url) {
        m_message->setText(error);
        m_url->setFocus();
        return; // stays open with what was typed
    }
    m_accepted = *url;
    QDialog::accept();
}

} // namespace sluice
