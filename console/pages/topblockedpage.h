// SPDX-License-Identifier: Apache-2.0
// The Top blocked page: the callers with the most blocked requests (/admin/top-blocked), with a
// reset of the selected caller's usage.
#pragma once

#include <QWidget>

class QLabel;
class QTreeWidget;
class QTreeWidgetItem;

namespace sluice {

class ApiClient;

class TopBlockedPage : public QWidget
{
    Q_OBJECT
public:
    explicit TopBlockedPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    int rows() const;
    // Asks, then empties the window of the selected caller (DELETE /admin/usage/{key}): a blocked
    // caller may send again at once.
    void resetSelected();
    QString message() const;
    // "Watch in Live usage": asks the window to watch the selected caller.
    void watchSelected();
    // "Show its policy": asks the window to show the policy that governs the selected caller's key
    // now (GET /admin/usage names it), or says that none does.
    void showSelectedPolicy();

Q_SIGNALS:
    void refreshed();
    void watchRequested(const QString &key);
    void policyRequested(qint64 id);

private:
    QTreeWidgetItem *selected(); // the selected row, or null having said to select one

    ApiClient *m_client;
    QTreeWidget *m_table;
    QLabel *m_message;
    QString m_note; // what the last action did, shown with the next list
};

} // namespace sluice
