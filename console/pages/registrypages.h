// SPDX-License-Identifier: Apache-2.0
// Two admin pages over the registry: API keys (list, create — the plaintext shown once with a copy
// button —, revoke after a confirmation) and Entities (tenants, users, models, tiers as the server
// holds them). Both read from the admin API only; without an admin token they say how to get one.
#pragma once

#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;
class QTableView;

namespace sluice {

class ApiClient;
class JsonTableModel;

class ApiKeysPage : public QWidget
{
    Q_OBJECT
public:
    explicit ApiKeysPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    // Creates a key for the picked tenant (and user, if any); the new key's dialog opens.
    void create();
    // Asks, then revokes the selected key.
    void revokeSelected();
    JsonTableModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }
    QString message() const;

Q_SIGNALS:
    void refreshed(bool ok);
    void created(const QString &plaintext);

private:
    void updateActions();

    ApiClient *m_client;
    JsonTableModel *m_model;
    QTableView *m_view;
    QComboBox *m_tenant, *m_user;
    QPushButton *m_create, *m_revoke;
    QLabel *m_message;
};

class EntitiesPage : public QWidget
{
    Q_OBJECT
public:
    explicit EntitiesPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    void showKind(const QString &kind); // "tenants", "users", "models", "tiers"
    JsonTableModel *model() const { return m_model; }
    QString message() const;

Q_SIGNALS:
    void refreshed(bool ok);

private:
    ApiClient *m_client;
    QComboBox *m_kind;
    JsonTableModel *m_model;
    QLabel *m_message;
};

} // namespace sluice
