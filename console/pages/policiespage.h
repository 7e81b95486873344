// SPDX-License-Identifier: Apache-2.0
// The Policies page: the registry's policies in a table (PolicyTableModel), with add, edit and
// delete through PolicyDialog. The server validates; its 400/409/404 messages are shown as they
// come. Network only through ApiClient, never waiting in the GUI thread.
#pragma once

#include "policydto.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace sluice {

class ApiClient;
class PolicyTableModel;

class PoliciesPage : public QWidget
{
    Q_OBJECT
public:
    explicit PoliciesPage(ApiClient *client, QWidget *parent = nullptr);

    PolicyTableModel *model() const { return m_model; }
    // What the table shows: sorted by a header click, filtered by the text typed above it.
    QSortFilterProxyModel *shown() const { return m_proxy; }
    void setFilterText(const QString &text);
    void refresh();
    // Creates (id 0) or updates a policy on the server, then refreshes.
    void submit(const PolicyDto &policy);
    void remove(qint64 id);
    // Asks first (a non-blocking question box, objectName "confirmDelete"); deletes on Yes.
    void requestRemove(qint64 id);
    QString message() const;
    // Opens the policy dialog (objectName "policyDialog") for a new policy or an existing one.
    void edit(const PolicyDto &policy);
    // Shows the policy with this id: the filter cleared, its row selected when the list is read
    // again (now when the page is shown; else when it is) — message() says if it is not there.
    void showPolicy(qint64 id);
    qint64 selectedPolicyId() const;
    // What a limit of 0 would refuse, in words (empty: not a limit of 0, or a shadow policy).
    static QString zeroLimitImpact(const PolicyDto &policy);

Q_SIGNALS:
    void refreshed();
    void failed(const QString &message);

private:
    void showMessage(const QString &text, bool error);
    // Lists the policies again; `note` (the last action's result) stays in front of the count.
    void reload(const QString &note);
    // Add/Edit/Delete: on with an admin token, off while the server does not answer.
    void updateActions();
    bool selectPolicy(qint64 id);
    qint64 m_select = 0; // showPolicy(): selected by the next list

    ApiClient *m_client;
    QPushButton *m_add, *m_edit, *m_delete;
    bool m_unreachable = false; // the last list found no server
    PolicyTableModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_view;
    QLabel *m_message;
};

} // namespace sluice
